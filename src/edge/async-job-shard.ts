/**
 * The Durable Object behind async jobs on Workers (`Prefer: respond-async`): one of SHARD_COUNT
 * objects, each holding, in its SQLite storage, the jobs whose (owner, key) hashes to it. A job is
 * found by its id (which names its object, see async-jobs.ts) and, while pending, by the digest of
 * its owner and key; `open` looks for the pending one and makes a new one in one synchronous
 * step, so two equal requests from any isolates share a job. Answers are kept ASYNC_JOB_TTL_MS,
 * then the object's alarm drops them; a job that is never answered lapses (see async-jobs.ts in
 * src/outbox) and is dropped in turn. Jobs opened under one order key are worked in the order they
 * were opened: `turn` answers `wait` for a job while an earlier one under its key is pending.
 */
import {
  ASYNC_JOB_PENDING_LIMIT_MS,
  type AsyncJob,
  type AsyncJobAnswer,
  expiryOf,
  hasLapsed,
} from '../outbox/async-jobs.ts';
import { alarmToSet } from './lease.ts';
import { type ShardState, serveShardCall, textArg } from './shard-calls.ts';

// `key` is the SHA-256 digest of owner and key: what makes two requests the same work is never
// stored as it is; `order_key` likewise. `answer` is the answer's JSON: what the synchronous
// response would have shown. The rowid orders the jobs: an object's rowids only grow while the
// rows before them live.
const SCHEMA = [
  'CREATE TABLE IF NOT EXISTS async_job (id TEXT PRIMARY KEY, owner TEXT NOT NULL, key TEXT NOT NULL, ' +
    'opened_at INTEGER NOT NULL, answer TEXT, completed_at INTEGER, expires_at INTEGER NOT NULL)',
  'CREATE INDEX IF NOT EXISTS async_job_pending ON async_job (key) WHERE answer IS NULL',
  'CREATE INDEX IF NOT EXISTS async_job_expiry ON async_job (expires_at)',
];

/** Objects made before jobs had an order key gain the column (their jobs have none). */
const ORDER_SCHEMA = [
  'ALTER TABLE async_job ADD COLUMN order_key TEXT',
  'CREATE INDEX IF NOT EXISTS async_job_order ON async_job (order_key) WHERE answer IS NULL',
];

/** The Durable Object class bound as `ASYNC_JOB_SHARDS`. */
export class AsyncJobShard {
  private readonly storage: ShardState['storage'];
  private readonly now: () => number;

  /** `now` is for tests; the platform constructs the object with its state and env only. */
  constructor(state: ShardState, _env?: unknown, now: () => number = Date.now) {
    this.storage = state.storage;
    this.now = now;
    for (const statement of SCHEMA) this.storage.sql.exec(statement);
    const columns = this.storage.sql.exec("SELECT name FROM pragma_table_info('async_job')").toArray();
    if (!columns.some((c) => c.name === 'order_key')) {
      for (const statement of ORDER_SCHEMA) this.storage.sql.exec(statement);
    }
  }

  fetch(request: Request): Promise<Response> {
    return serveShardCall(
      {
        open: (args) =>
          this.open(
            textArg(args, 'owner'),
            textArg(args, 'key'),
            textArg(args, 'id'),
            args.orderKey === undefined ? undefined : textArg(args, 'orderKey'),
          ),
        turn: (args) => ({ turn: this.turn(textArg(args, 'id')) }),
        get: (args) => this.get(textArg(args, 'id')) ?? null,
        complete: (args) => this.complete(textArg(args, 'id'), answerArg(args)),
        remove: (args) => this.remove(textArg(args, 'id')),
      },
      request,
    );
  }

  /**
   * The owner's pending job under the key digest if there is one, otherwise a new job `id`; a
   * repeated call for the same `id` is answered as the first was.
   */
  async open(
    owner: string,
    key: string,
    id: string,
    orderKey?: string,
  ): Promise<{ id: string; created: boolean }> {
    const now = this.now();
    const [pending] = this.storage.sql
      .exec(
        'SELECT id FROM async_job WHERE key = ? AND owner = ? AND answer IS NULL AND opened_at > ? LIMIT 1',
        key,
        owner,
        now - ASYNC_JOB_PENDING_LIMIT_MS,
      )
      .toArray();
    // The caller's own job when its first call was answered but the answer lost (a retried call):
    // still new to the caller, whose message is not queued yet.
    if (pending) return { id: String(pending.id), created: pending.id === id };
    const expiresAt = expiryOf({ openedAt: now });
    this.storage.sql.exec(
      'INSERT INTO async_job (id, owner, key, opened_at, expires_at, order_key) VALUES (?, ?, ?, ?, ?, ?)',
      id,
      owner,
      key,
      now,
      expiresAt,
      orderKey ?? null,
    );
    await this.scheduleFor(expiresAt);
    return { id, created: true };
  }

  /**
   * `wait` while a job opened before this one under its order key is pending and has not lapsed;
   * otherwise (no order key, answered, unknown) `go`.
   */
  turn(id: string): 'go' | 'wait' {
    const [job] = this.storage.sql
      .exec('SELECT rowid AS seq, order_key FROM async_job WHERE id = ? AND answer IS NULL', id)
      .toArray();
    if (!job || job.order_key === null || job.order_key === undefined) return 'go';
    const [earlier] = this.storage.sql
      .exec(
        'SELECT 1 FROM async_job WHERE order_key = ? AND answer IS NULL AND rowid < ? AND opened_at > ? LIMIT 1',
        job.order_key,
        job.seq ?? null,
        this.now() - ASYNC_JOB_PENDING_LIMIT_MS,
      )
      .toArray();
    return earlier ? 'wait' : 'go';
  }

  /** The job, unless it is unknown or has expired (whether or not the alarm has dropped it yet). */
  get(id: string): AsyncJob | undefined {
    const now = this.now();
    const [row] = this.storage.sql
      .exec('SELECT id, owner, answer, opened_at FROM async_job WHERE id = ? AND expires_at > ?', id, now)
      .toArray();
    if (!row) return undefined;
    const job: AsyncJob = { id: String(row.id), owner: String(row.owner) };
    if (typeof row.answer === 'string') return { ...job, answer: JSON.parse(row.answer) as AsyncJobAnswer };
    return hasLapsed(Number(row.opened_at), now) ? { ...job, lapsed: true } : job;
  }

  /** Keeps the answer, unless the job has one already or is gone; it is kept ASYNC_JOB_TTL_MS. */
  async complete(id: string, answer: AsyncJobAnswer): Promise<void> {
    const now = this.now();
    const expiresAt = expiryOf({ openedAt: now, completedAt: now });
    const { rowsWritten } = this.storage.sql.exec(
      'UPDATE async_job SET answer = ?, completed_at = ?, expires_at = ? ' +
        'WHERE id = ? AND answer IS NULL AND expires_at > ?',
      JSON.stringify(answer),
      now,
      expiresAt,
      id,
      now,
    );
    if (rowsWritten > 0) await this.scheduleFor(expiresAt);
  }

  remove(id: string): void {
    this.storage.sql.exec('DELETE FROM async_job WHERE id = ?', id);
  }

  /** Drops the jobs that have expired and sets the alarm for the next to expire. */
  async alarm(): Promise<void> {
    this.storage.sql.exec('DELETE FROM async_job WHERE expires_at <= ?', this.now());
    const [next] = this.storage.sql.exec('SELECT MIN(expires_at) AS next FROM async_job').toArray();
    if (typeof next?.next === 'number') await this.storage.setAlarm(next.next);
  }

  private async scheduleFor(expiresAt: number): Promise<void> {
    const at = alarmToSet(await this.storage.getAlarm(), expiresAt);
    if (at !== undefined) await this.storage.setAlarm(at);
  }
}

/** The answer argument, or a thrown error (a caller bug, answered 500). */
function answerArg(args: Record<string, unknown>): AsyncJobAnswer {
  const answer = args.answer as Partial<AsyncJobAnswer> | null | undefined;
  if (
    typeof answer?.status !== 'number' ||
    typeof answer.headers !== 'object' ||
    answer.headers === null ||
    (answer.format !== 'fhir' && answer.format !== 'json')
  ) {
    throw new Error('answer must be a job answer');
  }
  return answer as AsyncJobAnswer;
}
