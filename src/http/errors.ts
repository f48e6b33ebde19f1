import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { Failures, FhirError, type Issue } from '../fhir/outcomes.ts';
import type { Logger } from '../logger.ts';
import { StoreError, UpstreamError } from '../medplum/errors.ts';
import type { AppEnv } from './env.ts';
import { sendFhir } from './respond.ts';

const UPSTREAM_MESSAGES: Record<UpstreamError['failure'], Issue> = {
  unavailable: { code: 'transient', diagnostics: 'The FHIR store is unavailable; try again later' },
  throttled: { code: 'throttled', diagnostics: 'The FHIR store is busy; try again later' },
  timeout: { code: 'timeout', diagnostics: 'The FHIR store did not answer in time' },
  'bad-gateway': { code: 'exception', diagnostics: 'The FHIR store returned an error' },
  auth: { code: 'exception', diagnostics: 'The FHIR store refused this service’s credentials' },
};

/** Turns anything thrown while serving a request into the FhirError that describes it. */
export function toFhirError(err: unknown): FhirError {
  if (err instanceof FhirError) return err;
  if (err instanceof UpstreamError) {
    return new FhirError(
      err.status,
      [UPSTREAM_MESSAGES[err.failure]],
      err.status === 503 ? { 'Retry-After': '5' } : {},
    );
  }
  if (err instanceof StoreError) return new FhirError(err.status, publicIssues(err.outcome));
  return Failures.internal();
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
  const error = toFhirError(err);
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
