/**
 * Serialises work on the same keys (a referral identifier, an NHS number) so that concurrent
 * duplicates see each other's writes. This is the in-process implementation, enough for one Node
 * process or one Worker isolate; a deployment across isolates needs a shared one (a Durable
 * Object) behind the same interface.
 */
export interface KeyedLocks {
  withLocks<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T>;
}

export function createInProcessLocks(): KeyedLocks {
  const tails = new Map<string, Promise<void>>();

  const acquire = async (key: string): Promise<() => void> => {
    const previous = tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => current);
    tails.set(key, tail);
    await previous;
    return () => {
      release();
      if (tails.get(key) === tail) tails.delete(key);
    };
  };

  return {
    async withLocks(keys, fn) {
      // A fixed order means two callers needing overlapping keys cannot deadlock.
      const ordered = [...new Set(keys)].sort();
      const releases: (() => void)[] = [];
      try {
        for (const key of ordered) releases.push(await acquire(key));
        return await fn();
      } finally {
        for (const release of releases.reverse()) release();
      }
    },
  };
}
