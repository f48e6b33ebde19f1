import type { OperationOutcome } from '@medplum/fhirtypes';
import { FhirError, type Issue, type OutcomeKind } from '../fhir/outcomes.ts';
import { StoreError, type StoreRefusal, UpstreamError, type UpstreamFailure } from '../medplum/errors.ts';

/**
 * Failures of the FHIR store in the service's own vocabulary: what the Medplum port raises becomes
 * an outcome kind with its issues and headers here, so the HTTP layer maps kinds to statuses as it
 * does for every other failure and never learns the port's error types.
 */

const UPSTREAM_KIND: Readonly<Record<UpstreamFailure, OutcomeKind>> = {
  unavailable: 'unavailable',
  throttled: 'unavailable',
  contention: 'unavailable',
  'no-transactions': 'unavailable',
  timeout: 'timeout',
  'bad-gateway': 'bad-gateway',
  auth: 'bad-gateway',
};

const REFUSAL_KIND: Readonly<Record<StoreRefusal, OutcomeKind>> = {
  'not-found': 'not-found',
  gone: 'gone',
  conflict: 'conflict',
  'precondition-failed': 'precondition-failed',
  invalid: 'invalid',
};

/** Seconds a caller should wait before retrying an outage that may pass. */
const RETRY_AFTER_SECONDS = '5';

/**
 * Seconds to wait where the cause lasts longer: a Project given the feature is found again within
 * 30 seconds (src/medplum/store.ts); refused credentials need someone to change them.
 */
const UPSTREAM_RETRY_AFTER: Partial<Record<UpstreamFailure, string>> = {
  'no-transactions': '30',
  auth: '60',
};

const UPSTREAM_MESSAGES: Readonly<Record<UpstreamFailure, Issue>> = {
  unavailable: { code: 'transient', diagnostics: 'The FHIR store is unavailable; try again later' },
  throttled: { code: 'throttled', diagnostics: 'The FHIR store is busy; try again later' },
  timeout: { code: 'timeout', diagnostics: 'The FHIR store did not answer in time' },
  'bad-gateway': { code: 'exception', diagnostics: 'The FHIR store returned an error' },
  auth: { code: 'exception', diagnostics: 'The FHIR store refused this service’s credentials' },
  contention: {
    code: 'transient',
    diagnostics: 'The FHIR store was too busy with concurrent writes to finish this one; try again',
  },
  'no-transactions': {
    code: 'not-supported',
    diagnostics:
      'The FHIR store applies transaction Bundles entry by entry, so this service writes no referral there: give the Medplum project the transaction-bundles feature',
  },
};

/** A store failure as the outcome it is; undefined for anything else. */
export function storeOutcome(err: unknown): FhirError | undefined {
  if (err instanceof UpstreamError) {
    return new FhirError(UPSTREAM_KIND[err.failure], [UPSTREAM_MESSAGES[err.failure]], {
      'Retry-After': UPSTREAM_RETRY_AFTER[err.failure] ?? RETRY_AFTER_SECONDS,
    });
  }
  if (err instanceof StoreError) return new FhirError(REFUSAL_KIND[err.refusal], publicIssues(err.outcome));
  return undefined;
}

/** Whether the store failed (not the caller): a queued write waits for it to recover. */
export function isStoreOutage(err: unknown): boolean {
  return err instanceof UpstreamError;
}

/** For logs: the store's own HTTP status behind a failure, when there was one. */
export function upstreamStatusOf(err: unknown): number | undefined {
  return err instanceof UpstreamError ? err.upstreamStatus : undefined;
}

/** Keeps the store's issue codes and expressions; drops anything else it attached. */
function publicIssues(outcome: OperationOutcome): Issue[] {
  const issues = (outcome.issue ?? []).map((issue) => ({
    severity: issue.severity,
    code: issue.code,
    diagnostics: issue.details?.text ?? issue.diagnostics ?? 'The FHIR store refused the request',
    ...(issue.expression ? { expression: issue.expression } : {}),
  }));
  return issues.length > 0
    ? issues
    : [{ code: 'processing', diagnostics: 'The FHIR store refused the request' }];
}
