import type { RecordedResponse, ReplayStore } from '../middleware/request-replay.ts';
import { backoff, renewEvery } from './lease.ts';
import type { ShardBegin } from './replay-shard.ts';
import { callShard, type ShardNamespace } from './shard-calls.ts';
import { digestOf } from './shards.ts';

/** A failed renewal needs no handling: the claim it concerns expires on its own. */
const leftToExpiry = (): void => {};

/**
 * The X-Request-ID record across isolates: each key (as its digest) lives in the shard object
 * the digest names, where `begin` checks and claims it atomically. A claim is renewed while its
 * request runs, so it lapses only when the isolate running it has died (after `claimMs`). A
 * repeat that finds the id in flight asks again after a short, growing, jittered pause.
 */
export function createDurableObjectReplayStore(
  namespace: ShardNamespace,
  options: { claimMs?: number } = {},
): ReplayStore {
  const claimMs = options.claimMs ?? 30_000;
  const heartbeats = new Map<string, ReturnType<typeof setInterval>>();
  // Pauses grow per key while it stays in flight, and start again once it does not.
  const waits = new Map<string, number>();
  const stop = (claim: string) => {
    clearInterval(heartbeats.get(claim));
    heartbeats.delete(claim);
  };
  return {
    async begin(key) {
      const digest = await digestOf(key);
      // Chosen here, so that a `begin` repeated after a lost answer finds its own claim.
      const claim = crypto.randomUUID();
      const begun = await callShard<ShardBegin>(namespace, digest, 'begin', { key: digest, claim, claimMs });
      if (begun.state === 'in-flight') {
        const attempt = waits.get(digest) ?? 0;
        // Bounded: a waiter that went away leaves its count behind.
        if (waits.size >= 1_000) waits.clear();
        waits.set(digest, attempt + 1);
        const pause = backoff(attempt, 20, 500);
        return { state: 'in-flight', settled: new Promise<void>((resolve) => setTimeout(resolve, pause)) };
      }
      waits.delete(digest);
      if (begun.state === 'recorded') return begun;
      const renew = () =>
        callShard(namespace, digest, 'renew', { key: digest, claim, claimMs }).catch(leftToExpiry);
      heartbeats.set(claim, setInterval(renew, renewEvery(claimMs)));
      return { state: 'claimed', claim };
    },
    async complete(key, claim, response: RecordedResponse) {
      stop(claim);
      const digest = await digestOf(key);
      await callShard(namespace, digest, 'complete', { key: digest, claim, response });
    },
    async abandon(key, claim) {
      stop(claim);
      const digest = await digestOf(key);
      await callShard(namespace, digest, 'abandon', { key: digest, claim });
    },
  };
}
