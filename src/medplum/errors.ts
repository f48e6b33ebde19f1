import type { OperationOutcome } from '@medplum/fhirtypes';

/** Why Medplum could not serve a request; each maps to one gateway status. */
export type UpstreamFailure = 'unavailable' | 'timeout' | 'bad-gateway' | 'auth' | 'throttled';

const STATUS: Record<UpstreamFailure, number> = {
  unavailable: 503,
  throttled: 503,
  timeout: 504,
  'bad-gateway': 502,
  auth: 502,
};

/**
 * Medplum failed, not the caller. Thrown only from `src/medplum/`, so 5xx, timeouts, network and
 * credential failures are classified once, instead of surfacing as the client's generic 400.
 */
export class UpstreamError extends Error {
  readonly failure: UpstreamFailure;
  readonly status: number;
  /** Upstream HTTP status when there was one; kept for logs, never sent to callers. */
  readonly upstreamStatus: number | undefined;

  constructor(failure: UpstreamFailure, upstreamStatus?: number) {
    super(`Upstream FHIR store failure: ${failure}${upstreamStatus ? ` (${upstreamStatus})` : ''}`);
    this.name = 'UpstreamError';
    this.failure = failure;
    this.status = STATUS[failure];
    this.upstreamStatus = upstreamStatus;
  }
}

/** A store failure the caller caused or can act on (not found, version conflict, invalid). */
export class StoreError extends Error {
  readonly status: number;
  readonly outcome: OperationOutcome;

  constructor(status: number, outcome: OperationOutcome) {
    super(`FHIR store answered ${status}`);
    this.name = 'StoreError';
    this.status = status;
    this.outcome = outcome;
  }
}
