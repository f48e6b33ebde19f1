import { resolve } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { openExclusiveSqlite } from '../../sqlite-file.ts';

/** One change to the store, as the repository hands it over at commit. */
export type JournalChange =
  | { kind: 'put'; type: string; id: string; ordinal: number; versionId: string; content: string }
  | { kind: 'delete'; type: string; id: string }
  | { kind: 'expunge'; type: string; id: string };

export interface CurrentRow {
  type: string;
  id: string;
  ordinal: number;
  content: string;
}

/** Where the store keeps its data: a directory on disk, or nowhere (gone when the process ends). */
export type JournalLocation = { dir: string } | 'memory';

export class DataDirectoryInUseError extends Error {
  readonly dir: string;

  constructor(dir: string) {
    super(`The data directory ${dir} is in use by another process`);
    this.dir = dir;
    this.name = 'DataDirectoryInUseError';
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS resource (
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  ordinal INTEGER NOT NULL,
  version_id TEXT NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS version (
  seq INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version_id TEXT NOT NULL,
  content TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS version_by_resource ON version (type, id, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
`;

/**
 * The store's durable record, in SQLite (`node:sqlite`): the current version of every resource
 * and every version ever written. Each commit is one SQLite transaction in WAL mode with full
 * sync, so a crash loses at most the write in flight and never leaves half of one. The
 * database is opened in exclusive locking mode: a second process on the same directory is
 * refused instead of silently diverging from the first one's in-memory view.
 */
export class Journal {
  private readonly statements: {
    upsert: StatementSync;
    appendVersion: StatementSync;
    deleteCurrent: StatementSync;
    deleteVersions: StatementSync;
    history: StatementSync;
    version: StatementSync;
    getMeta: StatementSync;
    setMeta: StatementSync;
  };

  private readonly db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.db = db;
    db.exec(SCHEMA);
    this.statements = {
      upsert: db.prepare(
        'INSERT INTO resource (type, id, ordinal, version_id, content) VALUES (?, ?, ?, ?, ?) ' +
          'ON CONFLICT (type, id) DO UPDATE SET ordinal = excluded.ordinal, version_id = excluded.version_id, content = excluded.content',
      ),
      appendVersion: db.prepare('INSERT INTO version (type, id, version_id, content) VALUES (?, ?, ?, ?)'),
      deleteCurrent: db.prepare('DELETE FROM resource WHERE type = ? AND id = ?'),
      deleteVersions: db.prepare('DELETE FROM version WHERE type = ? AND id = ?'),
      history: db.prepare(
        'SELECT content FROM version WHERE type = ? AND id = ? ORDER BY seq DESC LIMIT ? OFFSET ?',
      ),
      version: db.prepare('SELECT content FROM version WHERE type = ? AND id = ? AND version_id = ?'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
    };
  }

  static open(location: JournalLocation): Journal {
    if (location === 'memory') return new Journal(new DatabaseSync(':memory:'));
    const db = openExclusiveSqlite(
      location.dir,
      'store.sqlite',
      () => new DataDirectoryInUseError(resolve(location.dir)),
    );
    return new Journal(db);
  }

  /** The current version of every resource, in the order they were first created. */
  *current(): Generator<CurrentRow> {
    const rows = this.db
      .prepare('SELECT type, id, ordinal, content FROM resource ORDER BY ordinal')
      .iterate();
    for (const row of rows) yield row as unknown as CurrentRow;
  }

  /** Version contents, newest first. */
  history(type: string, id: string, offset = 0, limit = -1): string[] {
    return this.statements.history.all(type, id, limit, offset).map((r) => r.content as string);
  }

  version(type: string, id: string, versionId: string): string | undefined {
    return this.statements.version.get(type, id, versionId)?.content as string | undefined;
  }

  /** Applies every change or none. */
  commit(changes: readonly JournalChange[]): void {
    if (changes.length === 0) return;
    const s = this.statements;
    this.db.exec('BEGIN IMMEDIATE');
    try {
      for (const change of changes) {
        if (change.kind === 'put') {
          s.upsert.run(change.type, change.id, change.ordinal, change.versionId, change.content);
          s.appendVersion.run(change.type, change.id, change.versionId, change.content);
        } else {
          s.deleteCurrent.run(change.type, change.id);
          if (change.kind === 'expunge') s.deleteVersions.run(change.type, change.id);
        }
      }
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /**
   * The SQLite connection, for the outbox: its table lives in the store's database, so a store and
   * its pending work share one file and one exclusive lock.
   */
  get database(): DatabaseSync {
    return this.db;
  }

  getMeta(key: string): string | undefined {
    return this.statements.getMeta.get(key)?.value as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.statements.setMeta.run(key, value);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}
