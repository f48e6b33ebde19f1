import { FhirError } from '../fhir/outcomes.ts';
import type { KeyedLocks } from '../referrals/locks.ts';
import { renewEvery } from './lease.ts';
import type { AcquireResult } from './lock-shard.ts';
import { callShard, type ShardNamespace } from './shard-calls.ts';
import { digestOf } from './shards.ts';

/** A failed renewal or release needs no handling: the lease it concerns expires on its own. */
const leftToExpiry = (): void => {};

/** Timings of the shared locks, in milliseconds. */
export interface DurableLockOptions {
  /** How long a lease lasts unless renewed: how long a dead isolate's lock outlives it. */
  leaseMs?: number;
  /** How long one call waits in the object for a taken key before asking again. */
  waitMs?: number;
  /** How long to wait for a key in all before answering 503. */
  maxWaitMs?: number;
}

/**
 * `KeyedLocks` across isolates: each key is leased from the shard object its digest names, in
 * a fixed order (no deadlock between callers needing overlapping keys), renewed while the work
 * runs and released after it. An isolate that dies mid-intake holds its keys for one lease at most.
 */
export function createDurableObjectLocks(
  namespace: ShardNamespace,
  options: DurableLockOptions = {},
): KeyedLocks {
  const leaseMs = options.leaseMs ?? 30_000;
  const waitMs = options.waitMs ?? 5_000;
  const maxWaitMs = options.maxWaitMs ?? 60_000;

  const acquire = async (digest: string, holder: string): Promise<void> => {
    const giveUpAt = Date.now() + maxWaitMs;
    for (;;) {
      const wait = Math.min(waitMs, giveUpAt - Date.now());
      if (wait < 0) break;
      const args = { key: digest, holder, leaseMs, waitMs: wait };
      if ((await callShard<AcquireResult>(namespace, digest, 'acquire', args)).granted) return;
    }
    throw new FhirError(
      'unavailable',
      [
        {
          code: 'transient',
          diagnostics: 'Another request for the same referral or person is still running',
        },
      ],
      { 'Retry-After': '5' },
    );
  };

  return {
    async withLocks(keys, fn) {
      // The same order as the in-process locks: by key, so every caller takes them alike.
      const ordered = [...new Set(keys)].sort();
      const digests = await Promise.all(ordered.map(digestOf));
      const holder = crypto.randomUUID();
      const held: string[] = [];
      const renew = () => {
        for (const key of held) {
          // A lost renewal is retried at the next beat; a lost lease is what the store's
          // conditional writes are there for.
          callShard(namespace, key, 'renew', { key, holder, leaseMs }).catch(leftToExpiry);
        }
      };
      const heartbeat = setInterval(renew, renewEvery(leaseMs));
      try {
        for (const digest of digests) {
          // Listed before it is granted: a grant whose answer was lost is released too.
          held.push(digest);
          await acquire(digest, holder);
        }
        return await fn();
      } finally {
        clearInterval(heartbeat);
        // A release that fails is ended by the lease instead.
        await Promise.all(
          held.map((key) => callShard(namespace, key, 'release', { key, holder }).catch(leftToExpiry)),
        );
      }
    },
  };
}
