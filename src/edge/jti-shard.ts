/**
 * The Durable Object behind the shared assertion ledger: one of SHARD_COUNT objects, each holding
 * the assertion ids (`jti`, as digests) of the clients whose id hashes to it, so that a client's
 * bound is counted in one place. Entries live in SQLite storage until they expire; expired ones
 * are swept when a client reaches its bound and by the object's alarm.
 */
import { alarmToSet } from './lease.ts';
import { numberArg, type ShardState, serveShardCall, textArg } from './shard-calls.ts';

/** Unexpired assertion ids a client may hold before it is refused (as in process). */
export const MAX_JTIS_PER_CLIENT = 10_000;

const SCHEMA =
  'CREATE TABLE IF NOT EXISTS jtis (client_id TEXT NOT NULL, jti TEXT NOT NULL, ' +
  'attempt TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (client_id, jti))';

/** The Durable Object class bound as `JTI_SHARDS`. */
export class JtiShard {
  private readonly storage: ShardState['storage'];

  constructor(state: ShardState, _env?: unknown) {
    this.storage = state.storage;
    this.storage.sql.exec(SCHEMA);
  }

  fetch(request: Request): Promise<Response> {
    return serveShardCall(
      {
        claim: async (args) => ({
          accepted: await this.claim(
            textArg(args, 'clientId'),
            textArg(args, 'jti'),
            textArg(args, 'attempt'),
            numberArg(args, 'expiresAt'),
            numberArg(args, 'now'),
          ),
        }),
      },
      request,
    );
  }

  /**
   * True the first time a client presents an unexpired `jti`; false after, and false while the
   * client holds MAX_JTIS_PER_CLIENT live ones. The same `attempt` asking again (its answer was
   * lost) is accepted again. `now` is the caller's clock, as the in-process ledger uses it.
   */
  async claim(
    clientId: string,
    jti: string,
    attempt: string,
    expiresAt: number,
    now: number,
  ): Promise<boolean> {
    const { sql } = this.storage;
    const [seen] = sql
      .exec('SELECT attempt, expires_at FROM jtis WHERE client_id = ? AND jti = ?', clientId, jti)
      .toArray();
    if (seen && Number(seen.expires_at) > now) return seen.attempt === attempt;
    const held = () =>
      Number(sql.exec('SELECT COUNT(*) AS n FROM jtis WHERE client_id = ?', clientId).toArray()[0]?.n ?? 0);
    if (held() >= MAX_JTIS_PER_CLIENT) {
      sql.exec('DELETE FROM jtis WHERE client_id = ? AND expires_at <= ?', clientId, now);
      if (held() >= MAX_JTIS_PER_CLIENT) return false;
    }
    sql.exec(
      'INSERT INTO jtis (client_id, jti, attempt, expires_at) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (client_id, jti) DO UPDATE SET attempt = excluded.attempt, expires_at = excluded.expires_at',
      clientId,
      jti,
      attempt,
      expiresAt,
    );
    const at = alarmToSet(await this.storage.getAlarm(), expiresAt);
    if (at !== undefined) await this.storage.setAlarm(at);
    return true;
  }

  /** Drops expired ids and sets the alarm for the next to expire. */
  async alarm(): Promise<void> {
    this.storage.sql.exec('DELETE FROM jtis WHERE expires_at <= ?', Date.now());
    const [next] = this.storage.sql.exec('SELECT MIN(expires_at) AS next FROM jtis').toArray();
    if (typeof next?.next === 'number') await this.storage.setAlarm(next.next);
  }
}
