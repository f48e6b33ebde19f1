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

  it('keeps every job under one order key in one object, and works them in the order opened', async () => {
    const { jobs, clock } = jobObjects();
    const orderKey = 'B99901|https://fhir.riverside-medical.example/referrals|RMP-7';
    const a = await jobs.open('gp', `${orderKey}|content-a`, 'a', orderKey);
    const b = await jobs.open('gp', `${orderKey}|content-b`, 'b', orderKey);
    const c = await jobs.open('gp-other-client', `${orderKey}|content-c`, 'c', orderKey);
    const shard = shardOf(await digestOf(`order\n${orderKey}`));
    expect([a.id, b.id, c.id].map((id) => shardOfJob(id))).toEqual([shard, shard, shard]);
    expect([await jobs.turn?.(a.id), await jobs.turn?.(b.id), await jobs.turn?.(c.id)]).toEqual([
      'go',
      'wait',
      'wait',
    ]);
    // Another identifier, and a job with no order key, wait for nothing.
    const other = await jobs.open('gp', 'B99901|x|RMP-8|content', 'd', 'B99901|x|RMP-8');
    const unordered = await jobs.open('gp', `${orderKey}|content-e`, 'e');
    expect([await jobs.turn?.(other.id), await jobs.turn?.(unordered.id)]).toEqual(['go', 'go']);
    // The same referral again is the same job, still in its place.
    expect(await jobs.open('gp', `${orderKey}|content-b`, 'b2', orderKey)).toEqual({
      id: b.id,
      created: false,
    });
    await jobs.complete(a.id, answer);
    expect([await jobs.turn?.(b.id), await jobs.turn?.(c.id)]).toEqual(['go', 'wait']);
    // A job whose message was never queued is removed; one never worked lapses: neither holds others.
    await jobs.remove(b.id);
    expect(await jobs.turn?.(c.id)).toBe('go');
    const f = await jobs.open('gp', `${orderKey}|content-f`, 'f', orderKey);
    const g = await jobs.open('gp', `${orderKey}|content-g`, 'g', orderKey);
    expect(await jobs.turn?.(g.id)).toBe('wait');
    await jobs.complete(c.id, answer);
    clock.now += ASYNC_JOB_PENDING_LIMIT_MS;
    expect(await jobs.turn?.(f.id)).toBe('go');
    expect(await jobs.turn?.(g.id)).toBe('go');
    // An id this store never made, or a job gone, waits for nothing.
    expect(await jobs.turn?.('x')).toBe('go');
    expect(await jobs.turn?.(`${shard}-gone`)).toBe('go');
  });

  it('gives an object made before jobs had an order key the column, keeping its jobs', async () => {
    const state = sqliteShardState();
    state.db.exec(
      'CREATE TABLE async_job (id TEXT PRIMARY KEY, owner TEXT NOT NULL, key TEXT NOT NULL, ' +
        'opened_at INTEGER NOT NULL, answer TEXT, completed_at INTEGER, expires_at INTEGER NOT NULL)',
    );
    const now = Date.now();
    state.db.exec(`INSERT INTO async_job VALUES ('3-old', 'gp', 'k', ${now}, NULL, NULL, ${now + HOUR})`);
    const object = new AsyncJobShard(state);
    expect(object.get('3-old')).toEqual({ id: '3-old', owner: 'gp' });
    expect(object.turn('3-old')).toBe('go');
    await object.open('gp', 'k2', '3-new', 'order');
    expect(object.turn('3-new')).toBe('go');
    // Made again over the same storage, nothing changes.
    expect(new AsyncJobShard(state).get('3-new')).toEqual({ id: '3-new', owner: 'gp' });
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
