import { FhirError } from '../fhir/outcomes.ts';
import type { GenerationalLocks } from '../referrals/locks.ts';
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
 * `KeyedLocks` across isolates: each key is leased from the shard object its digest names: all
 * at once when none is taken (one round trip), otherwise one after another in a fixed order (no
 * deadlock between callers needing overlapping keys); renewed while the work runs and released
 * after it. An isolate that dies mid-intake holds its keys for one lease at most.
 */
export function createDurableObjectLocks(
  namespace: ShardNamespace,
  options: DurableLockOptions = {},
): GenerationalLocks {
  const leaseMs = options.leaseMs ?? 30_000;
  const waitMs = options.waitMs ?? 5_000;
  const maxWaitMs = options.maxWaitMs ?? 60_000;

  /** Takes the key; answers its generation as it was when taken. */
  const acquire = async (digest: string, holder: string): Promise<string> => {
    const giveUpAt = Date.now() + maxWaitMs;
    for (;;) {
      const wait = Math.min(waitMs, giveUpAt - Date.now());
      if (wait < 0) break;
      const args = { key: digest, holder, leaseMs, waitMs: wait };
      const result = await callShard<AcquireResult>(namespace, digest, 'acquire', args);
      // An object from before generations answers none: that reads as changed.
      if (result.granted) return result.generation ?? crypto.randomUUID();
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

  /** Takes every key without waiting; their generations, or undefined when any is taken. */
  const tryAll = async (
    digests: readonly string[],
    keys: readonly string[],
    holder: string,
  ): Promise<Map<string, string> | undefined> => {
    // Settled, all of them, before anything is released: a grant still on its way is released too.
    const settled = await Promise.allSettled(
      digests.map((digest) =>
        callShard<AcquireResult>(namespace, digest, 'acquire', { key: digest, holder, leaseMs, waitMs: 0 }),
      ),
    );
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const results = settled.map((r) => (r as PromiseFulfilledResult<AcquireResult>).value);
    if (!results.every((r) => r.granted)) return undefined;
    // An object from before generations answers none: that reads as changed.
    return new Map(keys.map((key, i) => [key, results[i]?.generation ?? crypto.randomUUID()]));
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
      const release = (keys: readonly string[]) =>
        Promise.all(
          keys.map((key) => callShard(namespace, key, 'release', { key, holder }).catch(leftToExpiry)),
        );
      let generations: Map<string, string> | undefined;
      try {
        // Listed before they are granted: a grant whose answer was lost is released too.
        held.push(...digests);
        // Every key at once, without waiting: one round trip when nobody holds any of them.
        generations = await tryAll(digests, ordered, holder);
        if (!generations) {
          // Something is taken: give back what was granted and queue for each key in order, so
          // two callers needing overlapping keys cannot deadlock.
          await release(digests);
          generations = new Map();
          for (const [i, digest] of digests.entries()) {
            generations.set(ordered[i] as string, await acquire(digest, holder));
          }
        }
        return await fn(generations);
      } finally {
        clearInterval(heartbeat);
        // A release that fails is ended by the lease instead.
        await release(held);
      }
    },
    async generations(keys) {
      const found = await Promise.all(
        keys.map(async (key) => {
          const digest = await digestOf(key);
          try {
            const { generation } = await callShard<{ generation?: string }>(namespace, digest, 'generation', {
              key: digest,
            });
            return generation === undefined ? [] : [[key, generation] as const];
          } catch {
            // Not known (an object from before generations, or one not reachable now): the key
            // reads as changed, and the intake looks again under the lock.
            return [];
          }
        }),
      );
      return new Map(found.flat());
    },
  };
}
