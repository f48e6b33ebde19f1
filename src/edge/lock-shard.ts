/**
 * The Durable Object behind the shared locks: one of SHARD_COUNT objects, each holding the
 * leases on the keys that hash to it. Leases are rows in the object's SQLite storage, so they
 * survive its eviction; the object's alarm ends the leases whose holders stopped renewing them.
 * Callers that find a key taken wait here (in memory, for a bounded time), and the key is handed
 * to the first of them when it is released or its lease ends.
 */
import { alarmToSet, type Lease, mayTake } from './lease.ts';
import { numberArg, type ShardState, serveShardCall, textArg } from './shard-calls.ts';

/** What `acquire` answers: whether the key was granted, and its generation when it was. */
export interface AcquireResult {
  granted: boolean;
  generation?: string;
}

/** How long an idle key's generation is remembered; a forgotten one reads as changed. */
export const GENERATION_KEPT_MS = 10 * 60_000;

interface Waiter {
  holder: string;
  leaseMs: number;
  timer: ReturnType<typeof setTimeout>;
  resolve: (result: AcquireResult) => void;
}

const SCHEMA = [
  'CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL)',
  // A key's generation changes whenever it is released or its lease ends (src/referrals/locks.ts).
  'CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, generation TEXT NOT NULL, touched_at INTEGER NOT NULL)',
  'CREATE INDEX IF NOT EXISTS generations_touched ON generations (touched_at)',
];

/** The Durable Object class bound as `LOCK_SHARDS`. */
export class LockShard {
  private readonly storage: ShardState['storage'];
  private readonly waiters = new Map<string, Waiter[]>();

  constructor(state: ShardState, _env?: unknown) {
    this.storage = state.storage;
    for (const statement of SCHEMA) this.storage.sql.exec(statement);
  }

  fetch(request: Request): Promise<Response> {
    return serveShardCall(
      {
        acquire: (args) =>
          this.acquire(
            textArg(args, 'key'),
            textArg(args, 'holder'),
            numberArg(args, 'leaseMs'),
            numberArg(args, 'waitMs'),
          ),
        renew: (args) => ({
          renewed: this.renew(textArg(args, 'key'), textArg(args, 'holder'), numberArg(args, 'leaseMs')),
        }),
        release: (args) => this.release(textArg(args, 'key'), textArg(args, 'holder')),
        generation: (args) => ({ generation: this.generationOf(textArg(args, 'key')) }),
      },
      request,
    );
  }

  /** Takes the key for `holder`, or waits up to `waitMs` for it; not granted when the wait ends. */
  async acquire(key: string, holder: string, leaseMs: number, waitMs: number): Promise<AcquireResult> {
    if (this.take(key, holder, leaseMs, Date.now())) {
      await this.scheduleFor(Date.now() + leaseMs);
      return { granted: true, generation: this.generationOf(key) };
    }
    if (waitMs <= 0) return { granted: false };
    return new Promise<AcquireResult>((resolve) => {
      const queue = this.waiters.get(key) ?? [];
      this.waiters.set(key, queue);
      const waiter: Waiter = {
        holder,
        leaseMs,
        resolve,
        timer: setTimeout(() => {
          const at = queue.indexOf(waiter);
          if (at >= 0) queue.splice(at, 1);
          if (queue.length === 0 && this.waiters.get(key) === queue) this.waiters.delete(key);
          resolve({ granted: false });
        }, waitMs),
      };
      queue.push(waiter);
    });
  }

  /** Extends the holder's lease; false when it is no longer the holder's (it ran out). */
  renew(key: string, holder: string, leaseMs: number): boolean {
    const now = Date.now();
    const cursor = this.storage.sql.exec(
      'UPDATE leases SET expires_at = ? WHERE key = ? AND holder = ? AND expires_at > ?',
      now + leaseMs,
      key,
      holder,
      now,
    );
    return cursor.rowsWritten > 0;
  }

  /** Ends the holder's lease (nothing if it is not the holder's) and hands the key on. */
  async release(key: string, holder: string): Promise<void> {
    this.storage.sql.exec('DELETE FROM leases WHERE key = ? AND holder = ?', key, holder);
    // Whether or not the lease was still the holder's: work under the key may just have ended
    // (a holder whose lease ran out carries on until it releases).
    this.bump(key, Date.now());
    const handedUntil = this.handOn(key, Date.now());
    if (handedUntil !== undefined) await this.scheduleFor(handedUntil);
  }

  /** Ends the leases that have run out, hands their keys to waiters, and sets the next alarm. */
  async alarm(): Promise<void> {
    const now = Date.now();
    const expired = this.storage.sql
      .exec('SELECT key FROM leases WHERE expires_at <= ?', now)
      .toArray()
      .map((row) => String(row.key));
    this.storage.sql.exec('DELETE FROM leases WHERE expires_at <= ?', now);
    for (const key of expired) {
      this.bump(key, now);
      this.handOn(key, now);
    }
    const [next] = this.storage.sql.exec('SELECT MIN(expires_at) AS next FROM leases').toArray();
    if (typeof next?.next === 'number') await this.storage.setAlarm(next.next);
  }

  /** The lease on a key, if any row holds one. */
  lease(key: string): Lease | undefined {
    const [row] = this.storage.sql.exec('SELECT holder, expires_at FROM leases WHERE key = ?', key).toArray();
    return row ? { holder: String(row.holder), expiresAt: Number(row.expires_at) } : undefined;
  }

  /** The key's generation now (`0` when none is remembered). */
  generationOf(key: string): string {
    const [row] = this.storage.sql.exec('SELECT generation FROM generations WHERE key = ?', key).toArray();
    return row ? String(row.generation) : '0';
  }

  /** A new generation for the key; generations idle for long are forgotten. */
  private bump(key: string, now: number): void {
    this.storage.sql.exec(
      'INSERT INTO generations (key, generation, touched_at) VALUES (?, ?, ?) ' +
        'ON CONFLICT (key) DO UPDATE SET generation = excluded.generation, touched_at = excluded.touched_at',
      key,
      crypto.randomUUID(),
      now,
    );
    this.storage.sql.exec('DELETE FROM generations WHERE touched_at < ?', now - GENERATION_KEPT_MS);
  }

  /** Synchronous, so no other call runs between the check and the write. */
  private take(key: string, holder: string, leaseMs: number, now: number): boolean {
    const lease = this.lease(key);
    if (!mayTake(lease, holder, now)) return false;
    // Taking over a lease that ran out: its holder's work ended without a release.
    if (lease && lease.holder !== holder) this.bump(key, now);
    this.storage.sql.exec(
      'INSERT INTO leases (key, holder, expires_at) VALUES (?, ?, ?) ' +
        'ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at',
      key,
      holder,
      now + leaseMs,
    );
    return true;
  }

  /** Gives a free key to its first waiter; the new lease's expiry, when it was handed on. */
  private handOn(key: string, now: number): number | undefined {
    const queue = this.waiters.get(key);
    const next = queue?.[0];
    if (!queue || !next || !this.take(key, next.holder, next.leaseMs, now)) return undefined;
    queue.shift();
    if (queue.length === 0) this.waiters.delete(key);
    clearTimeout(next.timer);
    next.resolve({ granted: true, generation: this.generationOf(key) });
    return now + next.leaseMs;
  }

  private async scheduleFor(expiresAt: number): Promise<void> {
    const at = alarmToSet(await this.storage.getAlarm(), expiresAt);
    if (at !== undefined) await this.storage.setAlarm(at);
  }
}
