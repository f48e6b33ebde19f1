import type { OperationOutcome } from '@medplum/fhirtypes';

/**
 * Why Medplum could not serve a request: the store's fault, never the caller's. `contention`: a
 * write lost to concurrent ones and was rolled back (a serialization failure or a deadlock), so
 * nothing of it was applied. `no-transactions`: the Project runs transaction Bundles entry by
 * entry (it lacks the `transaction-bundles` feature), so a write of several entries is not sent.
 */
export const UPSTREAM_FAILURES = [
  'unavailable',
  'timeout',
  'bad-gateway',
  'auth',
  'throttled',
  'contention',
  'no-transactions',
] as const;

export type UpstreamFailure = (typeof UPSTREAM_FAILURES)[number];

/**
 * Medplum failed, not the caller. Thrown only from `src/medplum/`, so 5xx, timeouts, network and
 * credential failures are classified once, instead of surfacing as the client's generic 400.
 */
export class UpstreamError extends Error {
  readonly failure: UpstreamFailure;
  /** Upstream HTTP status when there was one; kept for logs, never sent to callers. */
  readonly upstreamStatus: number | undefined;

  constructor(failure: UpstreamFailure, upstreamStatus?: number) {
    super(`Upstream FHIR store failure: ${failure}${upstreamStatus ? ` (${upstreamStatus})` : ''}`);
    this.name = 'UpstreamError';
    this.failure = failure;
    this.upstreamStatus = upstreamStatus;
  }
}

/** How the store refused a request that was the caller's to get right. */
export type StoreRefusal = 'not-found' | 'gone' | 'conflict' | 'precondition-failed' | 'invalid';

/** A store failure the caller caused or can act on (not found, version conflict, invalid). */
export class StoreError extends Error {
  readonly refusal: StoreRefusal;
  /** Upstream HTTP status; kept for logs, never sent to callers. */
  readonly upstreamStatus: number;
  readonly outcome: OperationOutcome;

  constructor(upstreamStatus: number, outcome: OperationOutcome) {
    super(`FHIR store answered ${upstreamStatus}`);
    this.name = 'StoreError';
    this.upstreamStatus = upstreamStatus;
    this.refusal = refusalOf(upstreamStatus);
    this.outcome = outcome;
  }
}

function refusalOf(status: number): StoreRefusal {
  if (status === 404) return 'not-found';
  if (status === 410) return 'gone';
  if (status === 409) return 'conflict';
  if (status === 412) return 'precondition-failed';
  return 'invalid';
}

/** Whether the store said the resource is not there (never stored, or deleted). */
export function isMissing(err: unknown): boolean {
  return err instanceof StoreError && (err.refusal === 'not-found' || err.refusal === 'gone');
}
