import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/** One problem found, in the terms OperationOutcome.issue uses. */
export interface Issue {
  severity?: OperationOutcomeIssue['severity'];
  code: OperationOutcomeIssue['code'];
  diagnostics: string;
  expression?: string[];
}

/** Builds an OperationOutcome; every error body the service sends comes through here. */
export function operationOutcome(issues: readonly Issue[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map(({ severity = 'error', code, diagnostics, expression }) => ({
      severity,
      code,
      diagnostics,
      ...(expression?.length ? { expression } : {}),
    })),
  };
}

/**
 * An expected failure with its HTTP status. Messages are written by this service and never
 * carry request content, so they are safe to send and to log.
 */
export class FhirError extends Error {
  readonly status: number;
  readonly outcome: OperationOutcome;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, issues: readonly Issue[], headers: Record<string, string> = {}) {
    super(issues.map((i) => i.diagnostics).join('; '));
    this.name = 'FhirError';
    this.status = status;
    this.outcome = operationOutcome(issues);
    this.headers = headers;
  }
}

const fail = (status: number, code: Issue['code'], diagnostics: string, expression?: string[]): FhirError =>
  new FhirError(status, [{ code, diagnostics, ...(expression ? { expression } : {}) }]);

/** The vocabulary of failures the HTTP surface produces. */
export const Failures = {
  invalidJson: () => fail(400, 'structure', 'The request body is not valid JSON'),
  badRequest: (diagnostics: string, expression?: string[]) => fail(400, 'invalid', diagnostics, expression),
  unsupportedMediaType: () =>
    fail(415, 'not-supported', 'Content-Type must be application/fhir+json or application/json'),
  notAcceptable: () =>
    fail(406, 'not-supported', 'This server produces application/fhir+json or application/json only'),
  // The rest of the body is never read, so the connection cannot carry another request.
  payloadTooLarge: (limitBytes: number) =>
    new FhirError(
      413,
      [{ code: 'too-long', diagnostics: `The request body is larger than the limit of ${limitBytes} bytes` }],
      { Connection: 'close' },
    ),
  unknownRoute: () => fail(404, 'not-found', 'No such endpoint on this server'),
  /** A resource that does not exist, or that the caller may not know exists: the same answer. */
  notFound: () => fail(404, 'not-found', 'Not found'),
  unsupportedType: (type: string) => fail(404, 'not-supported', `Resource type ${type} is not served here`),
  notReady: () => fail(503, 'transient', 'The FHIR store is not reachable'),
  internal: () => fail(500, 'exception', 'Internal server error'),
} as const;

/** A body that failed its zod schema: 400, one issue per problem, at its JSON path. */
export function invalidBody(error: {
  issues: readonly { code: string; input?: unknown; message: string; path: readonly PropertyKey[] }[];
}): FhirError {
  return new FhirError(
    400,
    error.issues.map((issue) => ({
      code: issue.code === 'invalid_type' && issue.input === undefined ? 'required' : 'value',
      diagnostics: issue.message,
      expression: [issue.path.map(String).join('.') || '(body)'],
    })),
  );
}

/**
 * The version an update is made against, from its `If-Match` (`W/"<versionId>"`): 428 without
 * one, so that no change is made over another unseen.
 */
export function requireIfMatch(ifMatch: string | undefined): string {
  const version = /^(?:W\/)?"([^"]+)"$/.exec(ifMatch?.trim() ?? '')?.[1];
  if (!version) {
    throw new FhirError(428, [
      {
        code: 'required',
        diagnostics: 'Updates need If-Match with the version read (its ETag), so that no change is lost',
      },
    ]);
  }
  return version;
}
