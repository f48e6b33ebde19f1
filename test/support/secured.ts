import { readFileSync } from 'node:fs';
import { type ClientKey, clientAssertion, tokenForm } from '../../scripts/smart-client.ts';
import { testClientKey } from '../../scripts/test-client-keys.ts';
import type { AppDeps } from '../../src/app.ts';
import type { AuditSink } from '../../src/audit/audit-sink.ts';
import { createStoreAuditSink } from '../../src/audit/audit-sink.ts';
import { type AuthMode, createAuthMode } from '../../src/auth/mode.ts';
import { generateSigningKeyJwk } from '../../src/auth/tokens.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { call, captureLogger, createTestApp, TEST_NOW, TEST_ORIGIN, type TestApp } from './app.ts';

/** The facade's PUBLIC_BASE_URL: tokens are issued for it alone. */
export const BASE = TEST_ORIGIN;
export const TOKEN_URL = `${BASE}/oauth2/token`;
export const CLIENTS_JSON = readFileSync(
  new URL('../../examples/auth/clients.json', import.meta.url),
  'utf8',
);

export const GP = 'riverside-medical-gp-system';
export const SP = 'riverside-social-prescribing';
export const COMMUNITY = 'riverside-community-connector';
export const AUDITOR = 'information-governance-audit';

export interface SecuredApp extends TestApp {
  auth: AuthMode & { kind: 'tokens' };
  audit: AuditSink;
  /** Moves the service's clock (tokens are issued and checked against it). */
  setNow(date: Date): void;
  now(): Date;
  /** Requests a token; returns the raw response. */
  tokenResponse(form: string): Promise<Response>;
  /** A token for a test client with these scopes. */
  token(clientId: string, scope: string): Promise<string>;
  /** Calls the app with a bearer token. */
  as(token: string, path: string, init?: Parameters<typeof call>[2]): Promise<Response>;
}

/** The app with the test clients of examples/auth registered, on a seeded embedded store. */
export async function securedApp(
  env: Record<string, string> = {},
  options: {
    store?: FhirStore;
    audit?: AuditSink;
    clients?: string;
    asyncIntake?: AppDeps['asyncIntake'];
    locks?: AppDeps['locks'];
    subscriptions?: AppDeps['subscriptions'];
  } = {},
): Promise<SecuredApp> {
  let now = TEST_NOW;
  const clock = () => now;
  const auth = (await createAuthMode({
    clients: options.clients ?? CLIENTS_JSON,
    signingKey: JSON.stringify(await generateSigningKeyJwk()),
    openWhenUnconfigured: false,
    clock,
  })) as AuthMode & { kind: 'tokens' };
  const logger = captureLogger();
  let audit = options.audit;
  const test = createTestApp(
    { PUBLIC_BASE_URL: BASE, ...env },
    {
      ...(options.store ? { store: options.store } : {}),
      ...(options.asyncIntake ? { asyncIntake: options.asyncIntake } : {}),
      ...(options.locks ? { locks: options.locks } : {}),
      ...(options.subscriptions ? { subscriptions: options.subscriptions } : {}),
      clock,
      auth,
      logger,
      auditFor: (store) => {
        audit ??= createStoreAuditSink(store, logger);
        return audit;
      },
    },
  );
  await seedEmbeddedStore(test.store);
  const tokenResponse = (form: string) =>
    Promise.resolve(
      test.app.request(TOKEN_URL, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      }),
    );
  return {
    ...test,
    auth,
    audit: audit as AuditSink,
    setNow: (date) => {
      now = date;
    },
    now: clock,
    tokenResponse,
    async token(clientId, scope) {
      const assertion = await clientAssertion(testClientKey(clientId), TOKEN_URL, { now });
      const response = await tokenResponse(tokenForm(assertion, scope));
      const body = (await response.json()) as { access_token?: string; error?: string };
      if (!body.access_token) throw new Error(`token refused: ${body.error}`);
      return body.access_token;
    },
    as: (token, path, init = {}) =>
      call(test.app, path, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } }),
  };
}

export function assertionFor(clientId: string, options: Parameters<typeof clientAssertion>[2] = {}) {
  return clientAssertion(testClientKey(clientId), TOKEN_URL, { now: TEST_NOW, ...options });
}

export type { ClientKey };
