import type { CurrentVersions, PendingWrite } from './current-versions.ts';
import type { Journal } from './journal.ts';

const settled = (): void => {};

/** Serialises writers; readers never wait. */
class WriteLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    // The next writer waits for this one to settle, whatever its outcome; the caller gets the outcome.
    this.tail = result.then(settled, settled);
    return result;
  }
}

/**
 * Runs writes one at a time, each committed to the journal in one piece or, if it throws,
 * undone in memory so that the current versions match the journal again.
 */
export class Transactions {
  private readonly lock = new WriteLock();
  private readonly journal: Journal;
  private readonly current: CurrentVersions;

  constructor(journal: Journal, current: CurrentVersions) {
    this.journal = journal;
    this.current = current;
  }

  /** Runs `fn` under the write lock with a fresh {@link PendingWrite}, then commits or rolls back. */
  run<R>(fn: (pending: PendingWrite) => R | Promise<R>): Promise<R> {
    return this.lock.run(async () => {
      const pending: PendingWrite = { changes: [], undo: [] };
      try {
        const result = await fn(pending);
        this.journal.commit(pending.changes);
        return result;
      } catch (err) {
        this.current.rollback(pending);
        throw err;
      }
    });
  }
}
