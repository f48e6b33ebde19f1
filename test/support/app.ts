import { type AppDeps, createApp } from '../../src/app.ts';
import type { AuditSink } from '../../src/audit/audit-sink.ts';
import { type Config, parseConfig } from '../../src/config.ts';
import { publishedProfileFiles } from '../../src/fhir/published-profile-files.ts';
import type { Logger } from '../../src/logger.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import type { FhirStore } from '../../src/medplum/store.ts';

/** Log lines a test can inspect (and grep for patient data). */
export function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (event: string, fields?: object) => {
    lines.push(JSON.stringify({ level, event, ...fields }));
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

export interface TestApp {
  app: ReturnType<typeof createApp>;
  store: FhirStore;
  logs: string[];
  config: Config;
}

export const TEST_NOW = new Date('2026-11-20T09:00:00.000Z');

/** Where test requests are sent, and, with clients registered, the facade's PUBLIC_BASE_URL. */
export const TEST_ORIGIN = 'http://facade.test';

/** One reader of profiles/generated/ for every test app: each file is parsed once. */
const PUBLISHED_PROFILES = publishedProfileFiles();

/** The app on a fresh embedded Medplum, with a fixed clock and predictable (UUID-shaped) ids. */
export function createTestApp(
  env: Record<string, string> = {},
  overrides: Partial<
    Pick<AppDeps, 'store' | 'clock' | 'auth' | 'rateLimiter' | 'locks' | 'asyncIntake' | 'subscriptions'>
  > & {
    logger?: ReturnType<typeof captureLogger>;
    auditFor?: (store: FhirStore) => AuditSink;
  } = {},
): TestApp {
  // Clients registered need a PUBLIC_BASE_URL to issue tokens for: the origin tests call.
  const baseUrl = overrides.auth?.kind === 'tokens' ? { PUBLIC_BASE_URL: TEST_ORIGIN } : {};
  const config = parseConfig({ LOG_LEVEL: 'silent', ...baseUrl, ...env });
  const store = overrides.store ?? createEmbeddedStore({ timeoutMs: 5_000 }).store;
  const logger = overrides.logger ?? captureLogger();
  let n = 0;
  const app = createApp({
    config,
    store,
    clock: overrides.clock ?? (() => TEST_NOW),
    newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
    logger,
    publishedProfiles: PUBLISHED_PROFILES,
    ...(overrides.auth ? { auth: overrides.auth } : {}),
    ...(overrides.rateLimiter ? { rateLimiter: overrides.rateLimiter } : {}),
    ...(overrides.locks ? { locks: overrides.locks } : {}),
    ...(overrides.asyncIntake ? { asyncIntake: overrides.asyncIntake } : {}),
    ...(overrides.subscriptions ? { subscriptions: overrides.subscriptions } : {}),
    ...(overrides.auditFor ? { audit: overrides.auditFor(store) } : {}),
  });
  return { app, store, logs: logger.lines, config };
}

/** Sends a request to the app, with the FHIR JSON content type when there is a JSON body. */
export function call(
  app: TestApp['app'],
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/fhir+json';
  }
  return Promise.resolve(
    app.request(`${TEST_ORIGIN}${path}`, {
      method: init.method ?? (body ? 'POST' : 'GET'),
      headers,
      ...(body !== undefined ? { body } : {}),
    }),
  );
}

/** Asserts the shape every error response has, and returns the OperationOutcome. */
export async function expectOutcome(response: Response, status: number, code?: string) {
  const { expect } = await import('vitest');
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  const outcome = await response.json();
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue.length).toBeGreaterThan(0);
  for (const issue of outcome.issue) {
    expect(issue.severity).toBeDefined();
    expect(issue.code).toBeDefined();
  }
  if (code) expect(outcome.issue.map((i: { code: string }) => i.code)).toContain(code);
  return outcome;
}
