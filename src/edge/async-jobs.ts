import type { AsyncJob, AsyncJobAnswer, AsyncJobs } from '../outbox/async-jobs.ts';
import { callShardAt, type ShardNamespace } from './shard-calls.ts';
import { digestOf, SHARD_COUNT, shardOf } from './shards.ts';

/** A job id as this store makes it: its object's number, a hyphen, and the id it was given. */
const JOB_ID = /^(\d{1,4})-([0-9A-Za-z-]{1,64})$/;

/** The object a job id names, or undefined for an id this store never made. */
export function shardOfJob(id: string, shards = SHARD_COUNT): number | undefined {
  const match = JOB_ID.exec(id);
  if (!match) return undefined;
  const shard = Number(match[1]);
  // One spelling per object: no leading zeros.
  return shard < shards && String(shard) === match[1] ? shard : undefined;
}

/**
 * Async jobs across isolates, in the AsyncJobShard objects. A job is kept by the object that the
 * digest of its order key names (of its owner and key when it has none), so the same request sent
 * again, from any isolate, finds it there, and so does every job under its order key: the object
 * tells which of them goes first (`turn`), as the Queue keeps no order. Its id starts with that
 * object's number, so a status read goes straight to it. An id that names no object is no job,
 * and no object is asked.
 */
export function createDurableObjectAsyncJobs(namespace: ShardNamespace, shards = SHARD_COUNT): AsyncJobs {
  return {
    async open(owner, key, id, orderKey) {
      const digest = await digestOf(`${owner}\n${key}`);
      const order = orderKey === undefined ? undefined : await digestOf(`order\n${orderKey}`);
      const shard = shardOf(order ?? digest, shards);
      return callShardAt<{ id: string; created: boolean }>(namespace, shard, 'open', {
        owner,
        key: digest,
        id: `${shard}-${id}`,
        ...(order === undefined ? {} : { orderKey: order }),
      });
    },
    async turn(id) {
      const shard = shardOfJob(id, shards);
      if (shard === undefined) return 'go';
      return (await callShardAt<{ turn: 'go' | 'wait' }>(namespace, shard, 'turn', { id })).turn;
    },
    async get(id) {
      const shard = shardOfJob(id, shards);
      if (shard === undefined) return undefined;
      return (await callShardAt<AsyncJob | null>(namespace, shard, 'get', { id })) ?? undefined;
    },
    async complete(id, answer: AsyncJobAnswer) {
      const shard = shardOfJob(id, shards);
      if (shard !== undefined) await callShardAt(namespace, shard, 'complete', { id, answer });
    },
    async remove(id) {
      const shard = shardOfJob(id, shards);
      if (shard !== undefined) await callShardAt(namespace, shard, 'remove', { id });
    },
  };
}
