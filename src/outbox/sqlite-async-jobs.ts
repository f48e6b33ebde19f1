import type { DatabaseSync, StatementSync } from 'node:sqlite';
import {
  ASYNC_JOB_PENDING_LIMIT_MS,
  type AsyncJob,
  type AsyncJobAnswer,
  type AsyncJobs,
  expiryOf,
  hasLapsed,
} from './async-jobs.ts';

// `created_at` is when the job was opened; `expires_at` when it is forgotten (see expiryOf).
const SCHEMA = `
CREATE TABLE IF NOT EXISTS async_job (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  answer TEXT,
  completed_at INTEGER,
  expires_at INTEGER
);
`;

const INDEXES = `
CREATE INDEX IF NOT EXISTS async_job_pending ON async_job (owner, key) WHERE answer IS NULL;
CREATE INDEX IF NOT EXISTS async_job_expiry ON async_job (expires_at);
`;

/** How often, at most, opening a job also drops the expired ones (besides when the table is opened). */
const PURGE_EVERY_MS = 10 * 60_000;

/**
 * Async jobs in a SQLite table, in the outbox's database: a job and the message that works it
 * live and survive a crash together. Every statement is a single autocommit write, and each
 * method does its work before it first awaits, so no other request runs in between. Expired jobs
 * are never answered; they are dropped when the table is opened and, at most every ten minutes,
 * when a job is opened.
 */
export class SqliteAsyncJobs implements AsyncJobs {
  private readonly s: Record<'pending' | 'insert' | 'get' | 'complete' | 'remove' | 'purge', StatementSync>;
  private readonly now: () => number;
  private purgedAt = 0;

  constructor(db: DatabaseSync, now: () => number = Date.now) {
    db.exec(SCHEMA);
    migrate(db);
    db.exec(INDEXES);
    this.now = now;
    this.s = {
      pending: db.prepare(
        'SELECT id FROM async_job WHERE owner = ? AND key = ? AND answer IS NULL AND created_at > ? LIMIT 1',
      ),
      insert: db.prepare(
        'INSERT INTO async_job (id, owner, key, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
      ),
      get: db.prepare(
        'SELECT id, owner, answer, created_at AS openedAt FROM async_job WHERE id = ? AND expires_at > ?',
      ),
      complete: db.prepare(
        'UPDATE async_job SET answer = ?, completed_at = ?, expires_at = ? ' +
          'WHERE id = ? AND answer IS NULL AND expires_at > ?',
      ),
      remove: db.prepare('DELETE FROM async_job WHERE id = ?'),
      purge: db.prepare('DELETE FROM async_job WHERE expires_at <= ?'),
    };
    this.purge();
  }

  async open(owner: string, key: string, id: string): Promise<{ id: string; created: boolean }> {
    const now = this.now();
    if (now - this.purgedAt >= PURGE_EVERY_MS) this.purge();
    const row = this.s.pending.get(owner, key, now - ASYNC_JOB_PENDING_LIMIT_MS) as
      | { id: string }
      | undefined;
    if (row) return { id: row.id, created: false };
    this.s.insert.run(id, owner, key, now, expiryOf({ openedAt: now }));
    return { id, created: true };
  }

  async get(id: string): Promise<AsyncJob | undefined> {
    const now = this.now();
    const row = this.s.get.get(id, now) as
      | { id: string; owner: string; answer: string | null; openedAt: number }
      | undefined;
    if (!row) return undefined;
    const job = { id: row.id, owner: row.owner };
    if (row.answer !== null) return { ...job, answer: JSON.parse(row.answer) as AsyncJobAnswer };
    return hasLapsed(row.openedAt, now) ? { ...job, lapsed: true } : job;
  }

  async complete(id: string, answer: AsyncJobAnswer): Promise<void> {
    const now = this.now();
    this.s.complete.run(JSON.stringify(answer), now, expiryOf({ openedAt: now, completedAt: now }), id, now);
  }

  async remove(id: string): Promise<void> {
    this.s.remove.run(id);
  }

  /** Drops the jobs that have expired; answers how many. */
  purge(): number {
    const now = this.now();
    this.purgedAt = now;
    return Number(this.s.purge.run(now).changes);
  }
}

/**
 * Adds the columns of job expiry to a table made before them. Jobs answered then count as
 * answered when they were opened; every job then expires as expiryOf says.
 */
function migrate(db: DatabaseSync): void {
  const columns = new Set(
    (db.prepare('PRAGMA table_info(async_job)').all() as { name: string }[]).map((c) => c.name),
  );
  if (columns.has('expires_at')) return;
  db.exec('BEGIN');
  try {
    if (!columns.has('completed_at')) db.exec('ALTER TABLE async_job ADD COLUMN completed_at INTEGER');
    db.exec('ALTER TABLE async_job ADD COLUMN expires_at INTEGER');
    db.prepare(
      'UPDATE async_job SET completed_at = CASE WHEN answer IS NULL THEN NULL ELSE created_at END, ' +
        'expires_at = created_at + CASE WHEN answer IS NULL THEN ? ELSE ? END',
    ).run(expiryOf({ openedAt: 0 }), expiryOf({ openedAt: 0, completedAt: 0 }));
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}
