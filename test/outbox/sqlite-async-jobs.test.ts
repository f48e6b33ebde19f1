import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { ASYNC_JOB_PENDING_LIMIT_MS, ASYNC_JOB_TTL_MS } from '../../src/outbox/async-jobs.ts';
import { SqliteAsyncJobs } from '../../src/outbox/sqlite-async-jobs.ts';

const HOUR = 60 * 60_000;
const answer = { status: 200, headers: {}, format: 'fhir' as const, body: {} };
const count = (db: DatabaseSync) =>
  Number((db.prepare('SELECT COUNT(*) AS n FROM async_job').get() as { n: number }).n);

describe('async jobs in SQLite (Node)', () => {
  it('drops expired jobs when the table is opened, and as jobs are opened', async () => {
    const db = new DatabaseSync(':memory:');
    let now = Date.parse('2026-11-20T09:00:00.000Z');
    const jobs = new SqliteAsyncJobs(db, () => now);
    const done = await jobs.open('gp', 'done', 'j1');
    await jobs.complete(done.id, answer);
    await jobs.open('gp', 'pending', 'j2');
    now += ASYNC_JOB_TTL_MS;
    // Expired, so never answered, though still on disk until a purge.
    expect(await jobs.get(done.id)).toBeUndefined();
    expect(count(db)).toBe(2);
    await jobs.open('gp', 'new', 'j3');
    expect(count(db)).toBe(1 + 1);

    // A restart (the table opened again) purges too.
    now += ASYNC_JOB_PENDING_LIMIT_MS;
    const reopened = new SqliteAsyncJobs(db, () => now);
    expect(count(db)).toBe(1);
    expect(await reopened.get('j3')).toEqual({ id: 'j3', owner: 'gp', lapsed: true });
    expect(reopened.purge()).toBe(0);
  });

  it('gives the jobs of a table made before expiry their expiry', async () => {
    const db = new DatabaseSync(':memory:');
    const opened = Date.parse('2026-11-20T09:00:00.000Z');
    db.exec(`
      CREATE TABLE async_job (id TEXT PRIMARY KEY, owner TEXT NOT NULL, key TEXT NOT NULL,
        created_at INTEGER NOT NULL, answer TEXT);
      CREATE INDEX async_job_pending ON async_job (owner, key) WHERE answer IS NULL;
    `);
    const insert = db.prepare(
      'INSERT INTO async_job (id, owner, key, created_at, answer) VALUES (?, ?, ?, ?, ?)',
    );
    insert.run('old-done', 'gp', 'k1', opened, JSON.stringify(answer));
    insert.run('old-pending', 'gp', 'k2', opened, null);
    let now = opened + HOUR;
    const jobs = new SqliteAsyncJobs(db, () => now);
    expect(await jobs.get('old-done')).toEqual({ id: 'old-done', owner: 'gp', answer });
    expect(await jobs.open('gp', 'k2', 'new')).toEqual({ id: 'old-pending', created: false });
    now = opened + ASYNC_JOB_TTL_MS;
    expect(await jobs.get('old-done')).toBeUndefined();
    expect(await jobs.get('old-pending')).toEqual({ id: 'old-pending', owner: 'gp', lapsed: true });
    // Opening it again changes nothing.
    new SqliteAsyncJobs(db, () => now);
    expect(await jobs.get('old-pending')).toEqual({ id: 'old-pending', owner: 'gp', lapsed: true });
  });
});
