import { describe, expect, it, vi } from 'vitest';
import { AsyncJobShard } from '../../src/edge/async-job-shard.ts';
import { createDurableObjectAsyncJobs, shardOfJob } from '../../src/edge/async-jobs.ts';
import { digestOf, SHARD_COUNT, shardName, shardOf } from '../../src/edge/shards.ts';
import { ASYNC_JOB_PENDING_LIMIT_MS, ASYNC_JOB_TTL_MS } from '../../src/outbox/async-jobs.ts';
import { inProcessNamespace, sqliteShardState } from '../support/durable-object.ts';

const HOUR = 60 * 60_000;
const answer = { status: 200, headers: {}, format: 'fhir' as const, body: { resourceType: 'Bundle' } };

/** The job objects over an in-process namespace, with their states and a clock moved by hand. */
function jobObjects() {
  const clock = { now: Date.parse('2026-11-20T09:00:00.000Z') };
  const states = new Map<string, ReturnType<typeof sqliteShardState>>();
  const namespace = inProcessNamespace((name) => {
    const state = sqliteShardState();
    states.set(name, state);
    return new AsyncJobShard(state, undefined, () => clock.now);
  });
  return { clock, states, namespace, jobs: createDurableObjectAsyncJobs(namespace) };
}

describe('async jobs in Durable Objects', () => {
  it('keeps a job in the object its owner and key hash to, and names that object in its id', async () => {
    const { jobs, namespace, states } = jobObjects();
    const key = 'B99901|https://fhir.riverside-medical.example/referrals|RMP-1|fingerprint';
    const shard = shardOf(await digestOf(`gp\n${key}`));
    const { id } = await jobs.open('gp', key, '5f0c6a52-3c0e-4c55-9f3a-0d2b8c1e7a10');
    expect(id).toBe(`${shard}-5f0c6a52-3c0e-4c55-9f3a-0d2b8c1e7a10`);
    expect(shardOfJob(id)).toBe(shard);
    await jobs.get(id);
    await jobs.complete(id, answer);
    expect(new Set(namespace.calls.map((c) => c.name))).toEqual(new Set([shardName(shard)]));
    // What makes two referrals the same is kept as a digest only.
    const rows = states.get(shardName(shard))?.db.prepare('SELECT * FROM async_job').all();
    expect(JSON.stringify(rows)).not.toContain('RMP-1');
  });

  it('answers a repeated open (its first answer lost, the call retried) as it answered the first', async () => {
    const object = new AsyncJobShard(sqliteShardState());
    expect(await object.open('gp', 'digest', '3-a')).toEqual({ id: '3-a', created: true });
    expect(await object.open('gp', 'digest', '3-a')).toEqual({ id: '3-a', created: true });
    expect(await object.open('gp', 'digest', '3-b')).toEqual({ id: '3-a', created: false });
  });

  it('asks no object about an id it never made', async () => {
    const { jobs, namespace } = jobObjects();
    for (const id of ['x', '64-abc', `${SHARD_COUNT}-abc`, '07-abc', '-1-abc', '1-../2', '1-a b', '']) {
      expect(shardOfJob(id), id).toBeUndefined();
      expect(await jobs.get(id)).toBeUndefined();
      await jobs.complete(id, answer);
      await jobs.remove(id);
    }
    expect(namespace.calls).toEqual([]);
    expect(await jobs.get('3-not-there')).toBeUndefined();
    expect(namespace.calls).toEqual([{ name: shardName(3), op: 'get' }]);
  });

  it('sets its alarm for the next job to expire, and drops expired jobs when it rings', async () => {
    const { jobs, clock, states } = jobObjects();
    const opened = clock.now;
    const { id } = await jobs.open('gp', 'k', 'a');
    const state = states.get(shardName(shardOfJob(id) as number));
    expect(state?.alarmAt).toBe(opened + ASYNC_JOB_PENDING_LIMIT_MS + ASYNC_JOB_TTL_MS);
    clock.now += HOUR;
    await jobs.complete(id, answer);
    expect(state?.alarmAt).toBe(opened + HOUR + ASYNC_JOB_TTL_MS);

    const object = new AsyncJobShard(state as NonNullable<typeof state>, undefined, () => clock.now);
    const count = () => state?.db.prepare('SELECT COUNT(*) AS n FROM async_job').get()?.n;
    clock.now = opened + HOUR + ASYNC_JOB_TTL_MS - 1;
    await object.alarm();
    expect(count()).toBe(1);
    clock.now += 1;
    await object.alarm();
    expect(count()).toBe(0);
  });

  it('answers a bad call 500 without saying what was in it', async () => {
    const object = new AsyncJobShard(sqliteShardState());
    const call = (op: string, args: unknown) =>
      object.fetch(
        new Request(`https://shard.internal/${op}`, { method: 'POST', body: JSON.stringify(args) }),
      );
    const logs = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect((await call('complete', { id: '1-a', answer: { status: 'x', body: 'Amir' } })).status).toBe(500);
    expect((await call('open', { owner: 'gp', key: '', id: '1-a' })).status).toBe(500);
    expect(logs.mock.calls.join('\n')).not.toContain('Amir');
    logs.mockRestore();
    expect((await call('nothing', {})).status).toBe(404);
    expect(await (await call('get', { id: '1-a' })).json()).toBeNull();
  });
});
