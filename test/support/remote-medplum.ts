import { clientAssertion, tokenForm } from '../../scripts/smart-client.ts';
import { testClientKey } from '../../scripts/test-client-keys.ts';
import { type AuditSink, createStoreAuditSink } from '../../src/audit/audit-sink.ts';
import { type AuthMode, createAuthMode } from '../../src/auth/mode.ts';
import { generateSigningKeyJwk } from '../../src/auth/tokens.ts';
import { createMedplumClient, createMedplumStore, type FhirStore } from '../../src/medplum/store.ts';
import { call, captureLogger, createTestApp, TEST_NOW, type TestApp } from './app.ts';
import { FAKE_MEDPLUM_CLIENT, type FakeMedplum } from './medplum-handlers.ts';
import { CLIENTS_JSON, type SecuredApp, TOKEN_URL } from './secured.ts';

/** The facade's store in remote mode: a MedplumClient with client credentials to the fake. */
export function remoteStore(fake: FakeMedplum, timeoutMs = 5_000): FhirStore {
  return createMedplumStore(
    createMedplumClient({ baseUrl: fake.baseUrl, ...FAKE_MEDPLUM_CLIENT, timeoutMs }),
  );
}

/**
 * The app with the test clients of examples/auth registered (or `clients`), on a remote Medplum,
 * as production runs it. Nothing is seeded: the directory gets there as it would in production.
 */
export async function remoteSecuredApp(fake: FakeMedplum, clients = CLIENTS_JSON): Promise<SecuredApp> {
  let now = TEST_NOW;
  const clock = () => now;
  const auth = (await createAuthMode({
    clients,
    signingKey: JSON.stringify(await generateSigningKeyJwk()),
    openWhenUnconfigured: false,
    clock,
  })) as AuthMode & { kind: 'tokens' };
  const logger = captureLogger();
  let audit: SecuredApp['audit'] | undefined;
  const test = createTestApp(
    {},
    {
      store: remoteStore(fake),
      clock,
      auth,
      logger,
      auditFor: (store) => {
        audit = createStoreAuditSink(store, logger);
        return audit;
      },
    },
  );
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
    audit: audit as SecuredApp['audit'],
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

/** Waits until the app's audit sink has written everything queued, so no write outlives a test. */
export async function auditSettled(app: SecuredApp): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await app.audit.flush();
    if (app.audit.stats().pending === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Audit sinks of the apps made by `facadeOn`, settled after each test by `settleAudits`. */
const sinks: AuditSink[] = [];

/** The open facade on `store` (a remote Medplum); its audit records are settled by `settleAudits`. */
export function facadeOn(store: FhirStore): TestApp {
  return createTestApp(
    {},
    {
      store,
      auditFor: (s) => {
        const sink = createStoreAuditSink(s, captureLogger());
        sinks.push(sink);
        return sink;
      },
    },
  );
}

/** Waits until every `facadeOn` app has written its audit records, so none outlives its test's fake. */
export async function settleAudits(): Promise<void> {
  for (const sink of sinks.splice(0)) {
    for (let i = 0; i < 100 && sink.stats().pending > 0; i++) await sink.flush();
  }
}
