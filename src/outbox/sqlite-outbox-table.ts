import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { openExclusiveSqlite } from '../sqlite-file.ts';

/** One stored message. */
export interface OutboxRow {
  seq: number;
  kind: string;
  ref: string | null;
  payload: string;
  /** Attempts started so far. */
  attempts: number;
  /** When it may next be tried (ms since the epoch). */
  dueAt: number;
}

/** A message that used up its attempts. */
export interface DeadLetterRow extends OutboxRow {
  deadAt: number;
  lastError: string | null;
}

/** The outbox's own file, for a process whose FHIR store is not the embedded one. */
export class OutboxInUseError extends Error {
  constructor(file: string) {
    super(`The outbox ${file} is in use by another process`);
    this.name = 'OutboxInUseError';
  }
}

/**
 * Opens `outbox.sqlite` in the directory (created if missing), or a throwaway one in memory:
 * WAL with full sync, so an enqueued message survives a crash; exclusive, so two processes never
 * deliver the same messages.
 */
export function openOutboxDatabase(location: { dir: string } | 'memory'): DatabaseSync {
  if (location === 'memory') return new DatabaseSync(':memory:');
  return openExclusiveSqlite(location.dir, 'outbox.sqlite', (file) => new OutboxInUseError(file));
}

const schema = (table: string) => `
CREATE TABLE IF NOT EXISTS ${table} (
  seq INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  ref TEXT,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at INTEGER NOT NULL,
  dead_at INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS ${table}_due ON ${table} (dead_at, due_at, seq);
`;

/** Tables made before messages had an order key gain the column (every earlier row has none). */
function addOrderKey(db: DatabaseSync, table: string): void {
  const columns = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
  if (!columns.some((c) => c.name === 'order_key')) db.exec(`ALTER TABLE ${table} ADD COLUMN order_key TEXT`);
  db.exec(`CREATE INDEX IF NOT EXISTS ${table}_order ON ${table} (order_key, seq)`);
}

const COLUMNS = 'seq, kind, ref, payload, attempts, due_at AS dueAt';

/** A live message with no earlier live one under its order key (of `<table> o`). */
const firstOfItsKey = (table: string) => `(order_key IS NULL OR NOT EXISTS (
  SELECT 1 FROM ${table} e WHERE e.order_key = o.order_key AND e.dead_at IS NULL AND e.seq < o.seq))`;

/** Names of the outbox tables: a name of letters and underscores only, as it is put in SQL. */
const TABLE_NAME = /^[a-z_]{1,40}$/;

/**
 * The outbox table, in whatever SQLite database it is given (the embedded store's, or its own
 * file). Every statement is a single autocommit write, durable when it returns.
 */
export class OutboxTable {
  private readonly s: Record<
    | 'insert'
    | 'due'
    | 'nextDue'
    | 'claim'
    | 'failed'
    | 'dead'
    | 'settle'
    | 'remove'
    | 'counts'
    | 'deadLetters',
    StatementSync
  >;

  /** `table`: the outbox's table; a process may keep several, each drained by its own loop. */
  constructor(db: DatabaseSync, table = 'outbox') {
    if (!TABLE_NAME.test(table))
      throw new Error('An outbox table name is lower-case letters and underscores');
    db.exec(schema(table));
    addOrderKey(db, table);
    const FIRST_OF_ITS_KEY = firstOfItsKey(table);
    this.s = {
      insert: db.prepare(
        `INSERT INTO ${table} (kind, ref, payload, due_at, order_key) VALUES (?, ?, ?, ?, ?)`,
      ),
      // A message waits while an earlier live one under its order key is still undelivered.
      due: db.prepare(
        `SELECT ${COLUMNS} FROM ${table} o WHERE dead_at IS NULL AND due_at <= ?
           AND ${FIRST_OF_ITS_KEY}
         ORDER BY due_at, seq LIMIT ?`,
      ),
      // Of the messages that may go: one held behind an earlier one under its key is not due.
      nextDue: db.prepare(
        `SELECT MIN(due_at) AS dueAt FROM ${table} o WHERE dead_at IS NULL AND ${FIRST_OF_ITS_KEY}`,
      ),
      claim: db.prepare(`UPDATE ${table} SET attempts = ?, due_at = ? WHERE seq = ?`),
      failed: db.prepare(`UPDATE ${table} SET last_error = ? WHERE seq = ?`),
      dead: db.prepare(`UPDATE ${table} SET dead_at = ?, last_error = ? WHERE seq = ?`),
      settle: db.prepare(`UPDATE ${table} SET payload = 'null' WHERE seq = ? AND dead_at IS NOT NULL`),
      remove: db.prepare(`DELETE FROM ${table} WHERE seq = ?`),
      counts: db.prepare(
        `SELECT COUNT(*) FILTER (WHERE dead_at IS NULL) AS pending, COUNT(dead_at) AS dead FROM ${table}`,
      ),
      deadLetters: db.prepare(
        `SELECT ${COLUMNS}, dead_at AS deadAt, last_error AS lastError FROM ${table} WHERE dead_at IS NOT NULL ORDER BY seq`,
      ),
    };
  }

  insert(kind: string, ref: string | undefined, payload: string, dueAt: number, orderKey?: string): void {
    this.s.insert.run(kind, ref ?? null, payload, dueAt, orderKey ?? null);
  }

  /** Live messages due by `now`, oldest first. */
  due(now: number, limit: number): OutboxRow[] {
    return this.s.due.all(now, limit) as unknown as OutboxRow[];
  }

  /** When the next live message falls due, if there is one. */
  nextDueAt(): number | undefined {
    const row = this.s.nextDue.get() as { dueAt: number | null } | undefined;
    return row?.dueAt ?? undefined;
  }

  /** Counts an attempt as started, and when to try again should it never finish. */
  claim(seq: number, attempts: number, retryAt: number): void {
    this.s.claim.run(attempts, retryAt, seq);
  }

  failed(seq: number, error: string): void {
    this.s.failed.run(error, seq);
  }

  /** A dead letter whose sender has been told: its payload is not kept. */
  settle(seq: number): void {
    this.s.settle.run(seq);
  }

  dead(seq: number, at: number, error: string): void {
    this.s.dead.run(at, error, seq);
  }

  remove(seq: number): void {
    this.s.remove.run(seq);
  }

  counts(): { pending: number; dead: number } {
    const row = this.s.counts.get() as { pending: number; dead: number };
    return { pending: Number(row.pending), dead: Number(row.dead) };
  }

  deadLetters(): DeadLetterRow[] {
    return this.s.deadLetters.all() as unknown as DeadLetterRow[];
  }
}
