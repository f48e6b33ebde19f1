/**
 * The Durable Object behind the shared X-Request-ID record: one of SHARD_COUNT objects, each
 * holding, in its SQLite storage, the claims and recorded responses of the request ids that hash
 * to it. `begin` checks and claims in one synchronous step, so two isolates never both run the
 * same request. Claims are leases (renewed by a running request, ended by the alarm when its
 * isolate dies); records expire after their time to live, and the oldest go first once the
 * object holds more than its bound.
 */
import type { RecordedResponse } from '../middleware/request-replay.ts';
import { alarmToSet } from './lease.ts';
import { numberArg, type ShardState, serveShardCall, textArg } from './shard-calls.ts';

/** What `begin` answers: the claim is the caller's own, so a repeated `begin` is not locked out. */
export type ShardBegin =
  | { state: 'recorded'; response: RecordedResponse }
  | { state: 'in-flight' }
  | { state: 'claimed' };

/** Records kept per object, by their stored size: SHARD_COUNT times this in all. */
export const MAX_SHARD_BYTES = 16 * 1024 * 1024;
/** A larger response is not kept (a stored row holds at most 2 MB); a repeat of it runs afresh. */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** How long a response is kept for a repeat. */
export const RECORD_TTL_MS = 24 * 60 * 60_000;

// A row is a claim (claim set, no response) or a record (response set); expires_at ends either.
const SCHEMA =
  'CREATE TABLE IF NOT EXISTS replay (key TEXT PRIMARY KEY, claim TEXT, response TEXT, ' +
  'size INTEGER NOT NULL DEFAULT 0, recorded_at INTEGER, expires_at INTEGER NOT NULL)';

/** The Durable Object class bound as `REPLAY_SHARDS`. */
export class ReplayShard {
  private readonly storage: ShardState['storage'];

  constructor(state: ShardState, _env?: unknown) {
    this.storage = state.storage;
    this.storage.sql.exec(SCHEMA);
  }

  fetch(request: Request): Promise<Response> {
    return serveShardCall(
      {
        begin: (args) => this.begin(textArg(args, 'key'), textArg(args, 'claim'), numberArg(args, 'claimMs')),
        renew: (args) => ({
          renewed: this.renew(textArg(args, 'key'), textArg(args, 'claim'), numberArg(args, 'claimMs')),
        }),
        complete: (args) =>
          this.complete(textArg(args, 'key'), textArg(args, 'claim'), args.response as RecordedResponse),
        abandon: (args) => this.abandon(textArg(args, 'key'), textArg(args, 'claim')),
      },
      request,
    );
  }

  /** The record, or that another claim is live, or the key claimed for `claim`. */
  async begin(key: string, claim: string, claimMs: number): Promise<ShardBegin> {
    const now = Date.now();
    const [row] = this.storage.sql
      .exec('SELECT claim, response, expires_at FROM replay WHERE key = ?', key)
      .toArray();
    const live = row !== undefined && Number(row.expires_at) > now;
    if (live && typeof row.response === 'string') {
      return { state: 'recorded', response: JSON.parse(row.response) as RecordedResponse };
    }
    if (live && row.claim !== claim) return { state: 'in-flight' };
    this.storage.sql.exec(
      'INSERT INTO replay (key, claim, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET ' +
        'claim = excluded.claim, response = NULL, size = 0, recorded_at = NULL, expires_at = excluded.expires_at',
      key,
      claim,
      now + claimMs,
    );
    await this.scheduleFor(now + claimMs);
    return { state: 'claimed' };
  }

  /** Keeps the claim alive while its request runs; false once it is no longer the caller's. */
  renew(key: string, claim: string, claimMs: number): boolean {
    const now = Date.now();
    return (
      this.storage.sql.exec(
        'UPDATE replay SET expires_at = ? WHERE key = ? AND claim = ? AND response IS NULL AND expires_at > ?',
        now + claimMs,
        key,
        claim,
        now,
      ).rowsWritten > 0
    );
  }

  /**
   * Records the response (unless one is recorded already: the first answer is the one repeated),
   * then drops the oldest records while the object holds more than its bound.
   */
  async complete(key: string, claim: string, response: RecordedResponse): Promise<void> {
    const now = Date.now();
    const stored = JSON.stringify(response);
    const size = new TextEncoder().encode(stored).byteLength + key.length;
    if (size > MAX_RECORD_BYTES) return this.abandon(key, claim);
    this.storage.sql.exec(
      'INSERT INTO replay (key, claim, response, size, recorded_at, expires_at) VALUES (?, NULL, ?, ?, ?, ?) ' +
        'ON CONFLICT (key) DO UPDATE SET claim = NULL, response = excluded.response, size = excluded.size, ' +
        'recorded_at = excluded.recorded_at, expires_at = excluded.expires_at ' +
        'WHERE replay.response IS NULL OR replay.expires_at <= excluded.recorded_at',
      key,
      stored,
      size,
      now,
      now + RECORD_TTL_MS,
    );
    this.trim();
    await this.scheduleFor(now + RECORD_TTL_MS);
  }

  /** Ends the claim if it is still the caller's, leaving no record. */
  abandon(key: string, claim: string): void {
    this.storage.sql.exec('DELETE FROM replay WHERE key = ? AND claim = ? AND response IS NULL', key, claim);
  }

  /** Drops what has expired (claims of dead requests, old records) and sets the next alarm. */
  async alarm(): Promise<void> {
    this.storage.sql.exec('DELETE FROM replay WHERE expires_at <= ?', Date.now());
    const [next] = this.storage.sql.exec('SELECT MIN(expires_at) AS next FROM replay').toArray();
    if (typeof next?.next === 'number') await this.storage.setAlarm(next.next);
  }

  /** Oldest records first, until the rest fit in MAX_SHARD_BYTES. */
  private trim(): void {
    const [sum] = this.storage.sql.exec('SELECT COALESCE(SUM(size), 0) AS total FROM replay').toArray();
    let excess = Number(sum?.total ?? 0) - MAX_SHARD_BYTES;
    if (excess <= 0) return;
    const oldest = this.storage.sql
      .exec('SELECT key, size FROM replay WHERE response IS NOT NULL ORDER BY recorded_at, rowid')
      .toArray();
    for (const row of oldest) {
      if (excess <= 0) break;
      this.storage.sql.exec('DELETE FROM replay WHERE key = ?', String(row.key));
      excess -= Number(row.size);
    }
  }

  private async scheduleFor(expiresAt: number): Promise<void> {
    const at = alarmToSet(await this.storage.getAlarm(), expiresAt);
    if (at !== undefined) await this.storage.setAlarm(at);
  }
}
