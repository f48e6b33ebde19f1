/**
 * Request/expected-response pairs of `examples/` and how answers are checked against them, with
 * nothing that reads files: usable in workerd as in Node (examples-lib.ts reads them from disk).
 */
export interface ExampleRequest {
  description: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Sent as is instead of `body` (for malformed JSON). */
  rawBody?: string;
  /** Pads the JSON body with trailing whitespace to this many bytes (for the size limit). */
  padBodyTo?: number;
  /**
   * The test client (examples/auth/) that sends it where clients are registered; the GP system
   * when not given.
   */
  client?: string;
  /**
   * Sent only where clients are registered: what it shows (a client refused for its scopes) cannot
   * happen in the open local mode, where anyone may do anything.
   */
  onlyWithClients?: boolean;
}

/** The client that sends examples which do not name one. */
export const DEFAULT_EXAMPLE_CLIENT = 'riverside-medical-gp-system';

export interface ExampleResponse {
  status: number;
  headers?: Record<string, string>;
  /** A subset of the expected body: every value given must be present; arrays match by position. */
  body?: unknown;
  /**
   * Values later examples use as `{{name}}` (in their path, headers and body): a path into the
   * answer (`body.carePlan.id`, `body.entry[0].resource.meta.versionId`, `headers.etag`),
   * optionally followed by ` ~ regex` whose first group is kept.
   */
  capture?: Record<string, string>;
}

export interface Example {
  name: string;
  request: ExampleRequest;
  response: ExampleResponse;
}

export function toRequestInit(request: ExampleRequest, accessToken?: string): RequestInit {
  let body: string | undefined = request.rawBody;
  if (body === undefined && request.body !== undefined) {
    body = JSON.stringify(request.body);
    if (request.padBodyTo && body.length < request.padBodyTo)
      body += ' '.repeat(request.padBodyTo - body.length);
  }
  const headers = { ...request.headers, ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}) };
  return { method: request.method, headers, ...(body !== undefined ? { body } : {}) };
}

/** A request (or expected answer) with every `{{name}}` replaced by a captured value. */
export function substitute<T>(request: T, values: ReadonlyMap<string, string>): T {
  if (values.size === 0) return request;
  const text = JSON.stringify(request).replace(/\{\{([a-zA-Z]+)\}\}/g, (whole, name: string) => {
    const value = values.get(name);
    return value === undefined ? whole : JSON.stringify(value).slice(1, -1);
  });
  return JSON.parse(text) as T;
}

/**
 * The example folders, in the order they are run: referral intake, a whole journey, the directory
 * of community services, then a care plan shared with the person's care team on their consent.
 */
export const EXAMPLE_FOLDERS = ['referrals', 'journey', 'directory', 'care-team'] as const;

/** Records the values an example's answer provides for later ones; names what it could not find. */
export async function captureValues(
  expected: ExampleResponse,
  response: Response,
  values: Map<string, string>,
): Promise<string[]> {
  if (!expected.capture) return [];
  const problems: string[] = [];
  const body = await response
    .clone()
    .json()
    .catch(() => undefined);
  const headers = Object.fromEntries(response.headers);
  for (const [name, spec] of Object.entries(expected.capture)) {
    const [path = '', pattern] = spec.split(' ~ ');
    let value: unknown = { body, headers };
    for (const step of path.split(/\.|\[(\d+)\]/).filter(Boolean)) {
      value = (value as Record<string, unknown> | undefined)?.[step];
    }
    let text = typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
    if (text !== undefined && pattern) text = new RegExp(pattern).exec(text)?.[1];
    if (text === undefined) problems.push(`capture ${name}: nothing at ${spec}`);
    else values.set(name, text);
  }
  return problems;
}

/** Where the answer differs from what the example expects; empty when it matches. */
export async function compare(expected: ExampleResponse, response: Response): Promise<string[]> {
  const problems: string[] = [];
  if (response.status !== expected.status)
    problems.push(`status ${response.status}, expected ${expected.status}`);
  for (const [name, value] of Object.entries(expected.headers ?? {})) {
    const actual = response.headers.get(name);
    if (actual !== value) problems.push(`header ${name}: ${actual}, expected ${value}`);
  }
  if (expected.body !== undefined) {
    const text = await response.text();
    let actual: unknown;
    try {
      actual = JSON.parse(text);
    } catch {
      problems.push('body is not JSON');
    }
    problems.push(...subsetProblems(expected.body, actual, 'body'));
  }
  return problems;
}

function subsetProblems(expected: unknown, actual: unknown, path: string): string[] {
  if (expected === null || typeof expected !== 'object') {
    return Object.is(expected, actual)
      ? []
      : [`${path}: ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`];
  }
  if (actual === null || typeof actual !== 'object') return [`${path}: missing`];
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: not an array`];
    const lengthProblem =
      actual.length === expected.length
        ? []
        : [`${path}: ${actual.length} items, expected ${expected.length}`];
    return [
      ...lengthProblem,
      ...expected.flatMap((item, i) => subsetProblems(item, actual[i], `${path}[${i}]`)),
    ];
  }
  return Object.entries(expected as Record<string, unknown>).flatMap(([key, value]) =>
    subsetProblems(value, (actual as Record<string, unknown>)[key], `${path}.${key}`),
  );
}
