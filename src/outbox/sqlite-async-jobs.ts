import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { AsyncJob, AsyncJobAnswer, AsyncJobs } from './async-jobs.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS async_job (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  answer TEXT
);
CREATE INDEX IF NOT EXISTS async_job_pending ON async_job (owner, key) WHERE answer IS NULL;
`;

/**
 * Async jobs in a SQLite table, in the outbox's database: a job and the message that works it
 * live and survive a crash together. Every statement is a single autocommit write.
 */
export class SqliteAsyncJobs implements AsyncJobs {
  private readonly s: Record<'pending' | 'insert' | 'get' | 'complete' | 'remove', StatementSync>;
  private readonly now: () => number;

  constructor(db: DatabaseSync, now: () => number = Date.now) {
    db.exec(SCHEMA);
    this.now = now;
    this.s = {
      pending: db.prepare('SELECT id FROM async_job WHERE owner = ? AND key = ? AND answer IS NULL LIMIT 1'),
      insert: db.prepare('INSERT INTO async_job (id, owner, key, created_at) VALUES (?, ?, ?, ?)'),
      get: db.prepare('SELECT id, owner, key, answer FROM async_job WHERE id = ?'),
      complete: db.prepare('UPDATE async_job SET answer = ? WHERE id = ?'),
      remove: db.prepare('DELETE FROM async_job WHERE id = ?'),
    };
  }

  open(owner: string, key: string, id: string): { id: string; created: boolean } {
    // Synchronous from look-up to insert: no other request runs in between.
    const row = this.s.pending.get(owner, key) as { id: string } | undefined;
    if (row) return { id: row.id, created: false };
    this.s.insert.run(id, owner, key, this.now());
    return { id, created: true };
  }

  get(id: string): AsyncJob | undefined {
    const row = this.s.get.get(id) as
      | { id: string; owner: string; key: string; answer: string | null }
      | undefined;
    if (!row) return undefined;
    const { answer, ...job } = row;
    return answer === null ? job : { ...job, answer: JSON.parse(answer) as AsyncJobAnswer };
  }

  complete(id: string, answer: AsyncJobAnswer): void {
    this.s.complete.run(JSON.stringify(answer), id);
  }

  remove(id: string): void {
    this.s.remove.run(id);
  }
}
