import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { Failures, FhirError, type OutcomeKind } from '../fhir/outcomes.ts';
import type { Logger } from '../logger.ts';
import { isStoreOutage, storeOutcome, upstreamStatusOf } from '../workflow/store-failures.ts';
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
  'bad-gateway': 502,
  timeout: 504,
  gone: 410,
  'not-configured': 503,
  unavailable: 503,
};

/** Seconds a caller should wait before retrying an outage that may pass. */
const RETRY_AFTER_SECONDS = '5';

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

function describe(thrown: unknown): ErrorAnswer {
  // A store failure arrives as the outcome the use-case layer makes of it.
  const err = storeOutcome(thrown) ?? thrown;
  if (err instanceof FhirError) {
    return { status: STATUS_OF[err.kind], outcome: err.outcome, headers: { ...err.headers } };
  }
  const internal = Failures.internal();
  return { status: STATUS_OF[internal.kind], outcome: internal.outcome, headers: {} };
}

/** The one place an error becomes a response: an OperationOutcome, logged without content. */
export function errorResponse(err: unknown, c: Context<AppEnv>, logger: Logger): Response {
  const error = toErrorAnswer(err);
  if (error.status >= 500) {
    logger.error('request.failed', {
      requestId: c.get('requestId'),
      status: error.status,
      error: err instanceof Error ? err.name : typeof err,
      upstreamStatus: upstreamStatusOf(err),
      // The stack's frames locate the fault; its first line (the message) may quote input.
      at:
        err instanceof Error && !isStoreOutage(err)
          ? err.stack?.split('\n').slice(1, 4).join(' |')
          : undefined,
    });
  }
  return sendFhir(c, error.outcome, {
    status: error.status as ContentfulStatusCode,
    headers: { ...error.headers },
  });
}
