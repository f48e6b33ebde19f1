/**
 * Leases: what the Durable Objects hold on behalf of an isolate (a lock, a claim on a request
 * id). A lease runs out at its expiry unless its holder renews it, so a holder that dies frees
 * what it held after a bounded time. Pure functions of the lease and the time, in milliseconds.
 */

/** Who holds a key, and until when. */
export interface Lease {
  holder: string;
  expiresAt: number;
}

/** Whether a lease still binds at `now`: it ends at its expiry, exactly as the in-process ledger's do. */
export function isLive(lease: Lease | undefined, now: number): lease is Lease {
  return lease !== undefined && lease.expiresAt > now;
}

/**
 * Whether `holder` may take the key: nobody holds it, the lease has run out, or it is the
 * holder's own (a repeated request after a lost answer must not lock its sender out).
 */
export function mayTake(lease: Lease | undefined, holder: string, now: number): boolean {
  return !isLive(lease, now) || lease.holder === holder;
}

/**
 * The alarm to set so that a lease ending at `wanted` is looked at in time: `wanted` when no
 * alarm is set or the one set is later, otherwise undefined (the earlier alarm reschedules).
 */
export function alarmToSet(current: number | null, wanted: number): number | undefined {
  return current === null || current > wanted ? wanted : undefined;
}

/** How often a holder renews: three times per lease, so one lost renewal does not lose it. */
export function renewEvery(leaseMs: number): number {
  return Math.max(1, Math.floor(leaseMs / 3));
}

/**
 * How long to wait before asking again: doubling from `firstMs` up to `maxMs`, scaled by a
 * random factor between one half and one, so waiters that started together spread out.
 */
export function backoff(attempt: number, firstMs = 20, maxMs = 500, random = Math.random): number {
  const ceiling = Math.min(maxMs, firstMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling * (0.5 + random() / 2));
}
