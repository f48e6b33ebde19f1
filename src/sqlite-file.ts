import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/**
 * A SQLite database file in `dir`, opened for one process only (write-ahead log, full sync) and
 * locked at once, so that a second process is refused at start-up rather than on its first
 * write: `inUse` says how. Node only.
 */
export function openExclusiveSqlite(dir: string, file: string, inUse: (path: string) => Error): DatabaseSync {
  const folder = resolve(dir);
  mkdirSync(folder, { recursive: true });
  const path = join(folder, file);
  const db = new DatabaseSync(path);
  try {
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    db.close();
    if (err instanceof Error && /locked|busy/i.test(err.message)) throw inUse(path);
    throw err;
  }
  return db;
}
