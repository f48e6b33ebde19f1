/**
 * Serialises work on the same keys (a referral identifier, an NHS number) so that concurrent
 * duplicates see each other's writes. This is the in-process implementation, enough for one Node
 * process or one Worker isolate; a deployment across isolates needs a shared one (a Durable
 * Object) behind the same interface.
 *
 * Each key also has a generation, which changes every time the key is released. A caller that
 * read the generations before reading the store, and finds them unchanged once it holds the
 * keys, knows no work under those keys ended in between: what it read is still current, and it
 * need not read again under the lock.
 */
export interface KeyedLocks {
  /** Runs `fn` holding every key; `fn` is given each key's generation as it was when taken. */
  withLocks<T>(
    keys: readonly string[],
    fn: (generations: ReadonlyMap<string, string>) => Promise<T>,
  ): Promise<T>;
  /** Each key's generation now. */
  generations?(keys: readonly string[]): Promise<ReadonlyMap<string, string>>;
}

/** Locks that tell their generations. */
export type GenerationalLocks = KeyedLocks & Required<Pick<KeyedLocks, 'generations'>>;

/** Whether none of `keys` was released between the two readings of their generations. */
export function unchangedSince(
  before: ReadonlyMap<string, string> | undefined,
  now: ReadonlyMap<string, string>,
  keys: readonly string[],
): boolean {
  return before !== undefined && keys.every((key) => before.has(key) && before.get(key) === now.get(key));
}

/** How long an idle key's generation is remembered; a forgotten one reads as changed. */
const GENERATION_KEPT_MS = 10 * 60_000;

export function createInProcessLocks(now: () => number = Date.now): GenerationalLocks {
  const tails = new Map<string, Promise<void>>();
  // Oldest first: a bumped generation is moved to the end, so the stale ones are at the front.
  const generations = new Map<string, { value: string; at: number }>();
  let sequence = 0;
  const generationOf = (key: string) => generations.get(key)?.value ?? '0';
  const bump = (key: string) => {
    const at = now();
    generations.delete(key);
    generations.set(key, { value: String(++sequence), at });
    for (const [old, { at: touched }] of generations) {
      if (touched > at - GENERATION_KEPT_MS) break;
      generations.delete(old);
    }
  };

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
      bump(key);
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
        return await fn(new Map(ordered.map((key) => [key, generationOf(key)])));
      } finally {
        for (const release of releases.reverse()) release();
      }
    },
    async generations(keys) {
      return new Map(keys.map((key) => [key, generationOf(key)]));
    },
  };
}
