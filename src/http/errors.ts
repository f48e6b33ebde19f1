import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { Failures, FhirError, type Issue, type OutcomeKind } from '../fhir/outcomes.ts';
import type { Logger } from '../logger.ts';
import { StoreError, type StoreRefusal, UpstreamError, type UpstreamFailure } from '../medplum/errors.ts';
import type { AppEnv } from './env.ts';
import { sendFhir } from './respond.ts';

/** The one place an outcome becomes an HTTP status. */
export const STATUS_OF: Readonly<Record<OutcomeKind, number>> = {
  malformed: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  'method-not-allowed': 405,
  'not-acceptable': 406,
  conflict: 409,
  'precondition-failed': 412,
  'too-large': 413,
  'unsupported-media-type': 415,
  invalid: 422,
  'precondition-required': 428,
  throttled: 429,
  internal: 500,
  'incomplete-write': 502,
  'not-configured': 503,
  unavailable: 503,
};

const UPSTREAM_STATUS: Readonly<Record<UpstreamFailure, number>> = {
  unavailable: 503,
  throttled: 503,
  contention: 503,
  'no-transactions': 503,
  timeout: 504,
  'bad-gateway': 502,
  auth: 502,
};

const REFUSAL_STATUS: Readonly<Record<StoreRefusal, number>> = {
  'not-found': 404,
  gone: 410,
  conflict: 409,
  'precondition-failed': 412,
  invalid: 422,
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

const UPSTREAM_MESSAGES: Record<UpstreamError['failure'], Issue> = {
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

/** An error as it is answered: status, OperationOutcome and headers. */
export interface ErrorAnswer {
  status: number;
  outcome: OperationOutcome;
  headers: Record<string, string>;
}

/**
 * Turns anything thrown while serving a request into the answer that describes it. Every 502, 503
 * and 504 says when to try again: each is the store failing or missing, or the service not
 * ready, and none is the request's fault.
 */
export function toErrorAnswer(err: unknown): ErrorAnswer {
  const answer = describe(err);
  if ([502, 503, 504].includes(answer.status) && !answer.headers['Retry-After']) {
    answer.headers['Retry-After'] = RETRY_AFTER_SECONDS;
  }
  return answer;
}

function describe(err: unknown): ErrorAnswer {
  if (err instanceof FhirError) {
    return { status: STATUS_OF[err.kind], outcome: err.outcome, headers: { ...err.headers } };
  }
  if (err instanceof UpstreamError) {
    return {
      status: UPSTREAM_STATUS[err.failure],
      outcome: new FhirError('internal', [UPSTREAM_MESSAGES[err.failure]]).outcome,
      headers: { 'Retry-After': UPSTREAM_RETRY_AFTER[err.failure] ?? RETRY_AFTER_SECONDS },
    };
  }
  if (err instanceof StoreError) {
    return {
      status: REFUSAL_STATUS[err.refusal],
      outcome: new FhirError('invalid', publicIssues(err.outcome)).outcome,
      headers: {},
    };
  }
  const internal = Failures.internal();
  return { status: STATUS_OF[internal.kind], outcome: internal.outcome, headers: {} };
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

/** The one place an error becomes a response: an OperationOutcome, logged without content. */
export function errorResponse(err: unknown, c: Context<AppEnv>, logger: Logger): Response {
  const error = toErrorAnswer(err);
  if (error.status >= 500) {
    logger.error('request.failed', {
      requestId: c.get('requestId'),
      status: error.status,
      error: err instanceof Error ? err.name : typeof err,
      upstreamStatus: err instanceof UpstreamError ? err.upstreamStatus : undefined,
      // The stack's frames locate the fault; its first line (the message) may quote input.
      at:
        err instanceof Error && !(err instanceof UpstreamError)
          ? err.stack?.split('\n').slice(1, 4).join(' |')
          : undefined,
    });
  }
  return sendFhir(c, error.outcome, {
    status: error.status as ContentfulStatusCode,
    headers: { ...error.headers },
  });
}
