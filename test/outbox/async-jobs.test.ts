import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { AsyncJobShard } from '../../src/edge/async-job-shard.ts';
import { createDurableObjectAsyncJobs } from '../../src/edge/async-jobs.ts';
import {
  ASYNC_JOB_PENDING_LIMIT_MS,
  ASYNC_JOB_TTL_MS,
  type AsyncJobAnswer,
  type AsyncJobs,
} from '../../src/outbox/async-jobs.ts';
import { SqliteAsyncJobs } from '../../src/outbox/sqlite-async-jobs.ts';
import { inProcessNamespace, sqliteShardState } from '../support/durable-object.ts';

// What every job store does (SQLite on Node, the AsyncJobShard objects on Workers), with a clock
// moved by hand.

const HOUR = 60 * 60_000;
const answer = (status: number): AsyncJobAnswer => ({
  status,
  headers: { Location: 'x' },
  format: 'fhir',
  body: { resourceType: 'Bundle', type: 'transaction-response' },
});

interface Subject {
  jobs: AsyncJobs;
  clock: { now: number };
}

const stores: [string, () => Subject][] = [
  [
    'SQLite (Node)',
    () => {
      const clock = { now: Date.parse('2026-11-20T09:00:00.000Z') };
      return { jobs: new SqliteAsyncJobs(new DatabaseSync(':memory:'), () => clock.now), clock };
    },
  ],
  [
    'Durable Objects (Workers)',
    () => {
      const clock = { now: Date.parse('2026-11-20T09:00:00.000Z') };
      const namespace = inProcessNamespace(
        () => new AsyncJobShard(sqliteShardState(), undefined, () => clock.now),
      );
      return { jobs: createDurableObjectAsyncJobs(namespace), clock };
    },
  ],
];

describe.each(stores)('async jobs in %s', (_name, make) => {
  it('opens one job per owner and key while it is pending, and a new one once it is answered', async () => {
    const { jobs } = make();
    const first = await jobs.open('gp', 'B99901|R1|f1', 'id-1');
    expect(first.created).toBe(true);
    expect(first.id).toMatch(/id-1$/);
    expect(await jobs.open('gp', 'B99901|R1|f1', 'id-2')).toEqual({ id: first.id, created: false });
    // Another client, or other content, is other work.
    const other = await jobs.open('sp', 'B99901|R1|f1', 'id-3');
    const changed = await jobs.open('gp', 'B99901|R1|f2', 'id-4');
    expect([other.created, changed.created]).toEqual([true, true]);
    expect(new Set([first.id, other.id, changed.id]).size).toBe(3);

    expect(await jobs.get(first.id)).toEqual({ id: first.id, owner: 'gp' });
    await jobs.complete(first.id, answer(200));
    expect(await jobs.get(first.id)).toEqual({ id: first.id, owner: 'gp', answer: answer(200) });
    const again = await jobs.open('gp', 'B99901|R1|f1', 'id-5');
    expect(again.created).toBe(true);
    expect(again.id).not.toBe(first.id);
  });

  it('keeps the first answer, and forgets a removed job', async () => {
    const { jobs } = make();
    const { id } = await jobs.open('gp', 'k', 'id-1');
    await jobs.complete(id, answer(200));
    await jobs.complete(id, answer(503));
    expect((await jobs.get(id))?.answer?.status).toBe(200);
    const removed = await jobs.open('gp', 'k2', 'id-2');
    await jobs.remove(removed.id);
    expect(await jobs.get(removed.id)).toBeUndefined();
    expect(await jobs.get('no-such-job')).toBeUndefined();
  });

  it('forgets an answered job ASYNC_JOB_TTL_MS after its answer', async () => {
    const { jobs, clock } = make();
    const { id } = await jobs.open('gp', 'k', 'id-1');
    clock.now += 3 * HOUR;
    await jobs.complete(id, answer(200));
    clock.now += ASYNC_JOB_TTL_MS - 1;
    expect((await jobs.get(id))?.answer?.status).toBe(200);
    clock.now += 1;
    expect(await jobs.get(id)).toBeUndefined();
    // Gone for good: a late answer does not bring it back.
    await jobs.complete(id, answer(201));
    expect(await jobs.get(id)).toBeUndefined();
  });

  it('lets a job never answered lapse after ASYNC_JOB_PENDING_LIMIT_MS, then forgets it', async () => {
    const { jobs, clock } = make();
    const { id } = await jobs.open('gp', 'k', 'id-1');
    clock.now += ASYNC_JOB_PENDING_LIMIT_MS - 1;
    expect(await jobs.get(id)).toEqual({ id, owner: 'gp' });
    clock.now += 1;
    expect(await jobs.get(id)).toEqual({ id, owner: 'gp', lapsed: true });
    // The same request again is new work, not the lapsed job.
    const again = await jobs.open('gp', 'k', 'id-2');
    expect(again.created).toBe(true);
    clock.now += ASYNC_JOB_TTL_MS;
    expect(await jobs.get(id)).toBeUndefined();
    expect(await jobs.get(again.id)).toMatchObject({ id: again.id, owner: 'gp' });
  });
});
