import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/** One problem found, in the terms OperationOutcome.issue uses. */
export interface Issue {
  severity?: OperationOutcomeIssue['severity'];
  code: OperationOutcomeIssue['code'];
  diagnostics: string;
  expression?: string[];
}

/** Issues listed in one OperationOutcome at most; the rest are counted in a final issue. */
export const MAX_ISSUES = 100;

/**
 * Builds an OperationOutcome; every error body the service sends comes through here. Bounded:
 * past MAX_ISSUES problems, a final issue says how many more there were.
 */
export function operationOutcome(all: readonly Issue[]): OperationOutcome {
  const issues =
    all.length > MAX_ISSUES
      ? [
          ...all.slice(0, MAX_ISSUES),
          {
            severity: 'error' as const,
            code: 'too-costly' as const,
            diagnostics: `${all.length - MAX_ISSUES} more problems were found and are not listed`,
          },
        ]
      : all;
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
 * What went wrong, named by meaning rather than by HTTP status: use cases raise these, and only
 * the HTTP layer (`src/http/errors.ts`) decides which status each one is.
 */
export type OutcomeKind =
  /** The request is not well formed: unparseable, wrong shape, not base R4. */
  | 'malformed'
  /** Well formed, but it breaks a profile or a rule of the service. */
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  /** Missing, or not the caller's to know about: the same answer. */
  | 'not-found'
  /** The path is served, but not with this method. */
  | 'method-not-allowed'
  /** The request conflicts with the current state (an illegal move, a duplicate). */
  | 'conflict'
  /** The version the change was made against is no longer current. */
  | 'precondition-failed'
  /** The change must name the version it was made against. */
  | 'precondition-required'
  | 'throttled'
  | 'too-large'
  | 'unsupported-media-type'
  | 'not-acceptable'
  /** The store answered, but did not apply the whole write. */
  | 'incomplete-write'
  /** The service cannot serve this at all as configured (fails closed). */
  | 'not-configured'
  /** What the service depends on is not reachable now; a retry may succeed. */
  | 'unavailable'
  /** What the service depends on answered with an error of its own. */
  | 'bad-gateway'
  /** What the service depends on did not answer in time. */
  | 'timeout'
  /** It was there, and has been deleted. */
  | 'gone'
  | 'internal';

/**
 * An expected failure: its kind and the issues that explain it. Messages are written by this
 * service and never carry request content, so they are safe to send and to log.
 */
export class FhirError extends Error {
  readonly kind: OutcomeKind;
  readonly outcome: OperationOutcome;
  readonly headers: Readonly<Record<string, string>>;

  constructor(kind: OutcomeKind, issues: readonly Issue[], headers: Record<string, string> = {}) {
    super(issues.map((i) => i.diagnostics).join('; '));
    this.name = 'FhirError';
    this.kind = kind;
    this.outcome = operationOutcome(issues);
    this.headers = headers;
  }

  /** The same failure with its issues rewritten (for example, FHIRPaths as JSON paths). */
  withIssues(rewrite: (issue: Issue) => Issue): FhirError {
    const issues = (this.outcome.issue ?? []).map((issue) =>
      rewrite({
        severity: issue.severity,
        code: issue.code,
        diagnostics: issue.diagnostics ?? '',
        ...(issue.expression ? { expression: issue.expression } : {}),
      }),
    );
    return new FhirError(this.kind, issues, { ...this.headers });
  }
}

const fail = (
  kind: OutcomeKind,
  code: Issue['code'],
  diagnostics: string,
  expression?: string[],
): FhirError => new FhirError(kind, [{ code, diagnostics, ...(expression ? { expression } : {}) }]);

/** The failures with fixed wording that the service raises in many places. */
export const Failures = {
  invalidJson: () => fail('malformed', 'structure', 'The request body is not valid JSON'),
  badRequest: (diagnostics: string, expression?: string[]) =>
    fail('malformed', 'invalid', diagnostics, expression),
  unsupportedMediaType: () =>
    fail(
      'unsupported-media-type',
      'not-supported',
      'Content-Type must be application/fhir+json or application/json',
    ),
  notAcceptable: () =>
    fail(
      'not-acceptable',
      'not-supported',
      'This server produces application/fhir+json or application/json only',
    ),
  // The rest of the body is never read, so the connection cannot carry another request.
  payloadTooLarge: (limitBytes: number) =>
    new FhirError(
      'too-large',
      [{ code: 'too-long', diagnostics: `The request body is larger than the limit of ${limitBytes} bytes` }],
      { Connection: 'close' },
    ),
  unknownRoute: () => fail('not-found', 'not-found', 'No such endpoint on this server'),
  methodNotAllowed: (method: string, allow: string) =>
    new FhirError(
      'method-not-allowed',
      [{ code: 'not-supported', diagnostics: `${method} is not served here; this path answers ${allow}` }],
      { Allow: allow },
    ),
  /** A resource that does not exist, or that the caller may not know exists: the same answer. */
  notFound: () => fail('not-found', 'not-found', 'Not found'),
  /** An interaction FHIR defines that this service does not offer. */
  notServed: (diagnostics: string) => fail('not-found', 'not-supported', diagnostics),
  unsupportedType: (type: string) =>
    fail('not-found', 'not-supported', `Resource type ${type} is not served here`),
  /** A change made against a version that is no longer current. */
  stale: (what: string) =>
    fail(
      'precondition-failed',
      'conflict',
      `The ${what} has changed since that version was read; read it again`,
    ),
  /** The store answered but did not apply all of the write. */
  incompleteWrite: (what: string) =>
    fail('incomplete-write', 'exception', `The FHIR store did not store the whole ${what}`),
  notReady: () =>
    new FhirError('unavailable', [{ code: 'transient', diagnostics: 'The FHIR store is not reachable' }], {
      'Retry-After': '5',
    }),
  internal: () => fail('internal', 'exception', 'Internal server error'),
} as const;

/** A body that failed its zod schema: malformed, one issue per problem, at its JSON path. */
export function invalidBody(error: {
  issues: readonly { code: string; input?: unknown; message: string; path: readonly PropertyKey[] }[];
}): FhirError {
  return new FhirError(
    'malformed',
    error.issues.map((issue) => ({
      code: issue.code === 'invalid_type' && issue.input === undefined ? 'required' : 'value',
      diagnostics: issue.message,
      expression: [issue.path.map(String).join('.') || '(body)'],
    })),
  );
}

/**
 * The version an update is made against, from its `If-Match` (`W/"<versionId>"`); required, so
 * that no change is made over another unseen.
 */
export function requireIfMatch(ifMatch: string | undefined): string {
  const version = /^(?:W\/)?"([^"]+)"$/.exec(ifMatch?.trim() ?? '')?.[1];
  if (!version) {
    throw new FhirError('precondition-required', [
      {
        code: 'required',
        diagnostics: 'Updates need If-Match with the version read (its ETag), so that no change is lost',
      },
    ]);
  }
  return version;
}

/**
 * Runs `fn`, and rewrites the expressions of any FhirError it raises: a use case that checks a
 * mapped resource reports problems where the caller put them (a JSON path, the entry it sent).
 */
export async function withExpressionsAs<T>(
  alias: (expression: string) => string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof FhirError)) throw err;
    throw err.withIssues((issue) =>
      issue.expression ? { ...issue, expression: issue.expression.map(alias) } : issue,
    );
  }
}
