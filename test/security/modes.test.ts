import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { createStoreAuditSink } from '../../src/audit/audit-sink.ts';
import { generateSigningKeyJwk } from '../../src/auth/tokens.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import worker from '../../src/worker.ts';
import { call, captureLogger, createTestApp, expectOutcome } from '../support/app.ts';
import { exampleBody } from '../support/referrals.ts';
import { CLIENTS_JSON, GP, SP, securedApp } from '../support/secured.ts';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} };
const MEDPLUM = {
  MEDPLUM_BASE_URL: 'https://medplum.test/',
  MEDPLUM_CLIENT_ID: 'c',
  MEDPLUM_CLIENT_SECRET: 's',
};

describe('fail closed, open only on loopback', () => {
  it('the Worker with no clients registered refuses FHIR routes and still answers /metadata and /health', async () => {
    const env = { ...MEDPLUM };
    const fhir = await worker.fetch(new Request('https://facade.test/fhir/ServiceRequest'), env, ctx);
    await expectOutcome(fhir, 503, 'security');
    const json = await worker.fetch(
      new Request('https://facade.test/referrals', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }),
      env,
      ctx,
    );
    expect(json.status).toBe(503);
    expect((await worker.fetch(new Request('https://facade.test/metadata'), env, ctx)).status).toBe(200);
    expect((await worker.fetch(new Request('https://facade.test/health'), env, ctx)).status).toBe(200);
  });

  it('the Worker with clients but a bad signing key says which setting is wrong, not its value', async () => {
    const env = { ...MEDPLUM, AUTH_CLIENTS: CLIENTS_JSON, AUTH_SIGNING_KEY: '{"kty":"oct","k":"c2VjcmV0"}' };
    const response = await worker.fetch(new Request('https://facade.test/metadata'), env, ctx);
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain('c2VjcmV0');
  });

  it('the Worker with clients advertises SMART in its CapabilityStatement and smart-configuration', async () => {
    const env = {
      ...MEDPLUM,
      PUBLIC_BASE_URL: 'https://facade.test',
      AUTH_CLIENTS: CLIENTS_JSON,
      AUTH_SIGNING_KEY: JSON.stringify(await generateSigningKeyJwk()),
    };
    const statement = await (
      await worker.fetch(new Request('https://facade.test/metadata'), env, ctx)
    ).json();
    expect(statement.rest[0].security.service[0].coding[0].code).toBe('SMART-on-FHIR');
    expect(JSON.stringify(statement.rest[0].security)).toContain('https://facade.test/oauth2/token');
    for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
      const config = await (await worker.fetch(new Request(`https://facade.test${path}`), env, ctx)).json();
      expect(config).toMatchObject({
        token_endpoint: 'https://facade.test/oauth2/token',
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
        grant_types_supported: ['client_credentials'],
      });
    }
    await expectOutcome(
      await worker.fetch(new Request('https://facade.test/fhir/ServiceRequest'), env, ctx),
      401,
      'login',
    );
  });

  it('the Worker with a client registry that does not parse names the problems in its log, not the keys', async () => {
    const env = { ...MEDPLUM, AUTH_CLIENTS: '{"clients":[{"clientId":"a"}]}', AUTH_SIGNING_KEY: 'x' };
    const response = await worker.fetch(new Request('https://facade.test/metadata'), env, ctx);
    expect(response.status).toBe(500);
    expect((await response.json()).resourceType).toBe('OperationOutcome');
  });

  it('npm start refuses arguments it does not know', () => {
    const run = spawnSync(process.execPath, ['src/node.ts', '--memroy'], {
      cwd: PROJECT,
      env: { ...process.env, PORT: '8791' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/Unknown argument\(s\): --memroy/);
  });

  it('npm start with no clients refuses to listen beyond loopback', () => {
    const run = spawnSync(process.execPath, ['src/node.ts', '--memory'], {
      cwd: PROJECT,
      env: { ...process.env, HOST: '0.0.0.0', PORT: '8790', AUTH_CLIENTS_FILE: '', AUTH_CLIENTS: '' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/loopback only/);
  });

  it('npm start with no clients serves openly (the local try-it mode), without tokens', async () => {
    const { app } = createTestApp();
    expect((await call(app, '/fhir/Organization')).status).toBe(200);
    expect((await call(app, '/.well-known/smart-configuration')).status).toBe(404);
  });
});

describe('abuse limits and browser headers', () => {
  it('answers 429 with Retry-After and a throttled OperationOutcome past a client’s allowance', async () => {
    const s = await securedApp({ RATE_LIMIT_PER_MINUTE: '3' });
    const token = await s.token(GP, 'system/*.rs');
    const other = await s.token(SP, 'system/*.rs');
    for (let i = 0; i < 3; i++) expect((await s.as(token, '/fhir/Organization')).status).toBe(200);
    const limited = await s.as(token, '/fhir/Organization');
    await expectOutcome(limited, 429, 'throttled');
    expect(limited.headers.get('retry-after')).toBe('60');
    // Per client: another client is not held back by the first.
    expect((await s.as(other, '/fhir/Organization')).status).toBe(200);
    s.setNow(new Date(s.now().getTime() + 60_000));
    const later = await s.token(GP, 'system/*.rs');
    expect((await s.as(later, '/fhir/Organization')).status).toBe(200);
  });

  it('sends the secure headers on every response', async () => {
    const { app } = createTestApp();
    for (const path of ['/metadata', '/fhir/Organization', '/fhir/Nothing']) {
      const response = await call(app, path);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(response.headers.get('strict-transport-security')).toMatch(/max-age=/);
    }
  });

  it('allows cross-origin calls from configured viewer origins only', async () => {
    const { app } = createTestApp({ CORS_ORIGINS: 'https://viewer.example.nhs.uk' });
    const preflight = (origin: string) =>
      app.request('http://facade.test/fhir/CarePlan', {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const allowed = await preflight('https://viewer.example.nhs.uk');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://viewer.example.nhs.uk');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const none = createTestApp().app;
    const plain = await none.request('http://facade.test/fhir/Organization', {
      headers: { origin: 'https://viewer.example.nhs.uk' },
    });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('audit', () => {
  it('a failed audit write is retried, logged, kept for the next flush, and never holds up the response', async () => {
    const { store } = createEmbeddedStore({ timeoutMs: 5_000 });
    let failures = 2;
    let release: () => void = () => undefined;
    const hanging = new Promise<void>((resolve) => {
      release = resolve;
    });
    const flaky: FhirStore = {
      ...store,
      create: async (resource) => {
        if (resource.resourceType === 'AuditEvent') {
          await hanging;
          if (failures-- > 0) throw new Error('store down');
        }
        return store.create(resource);
      },
    };
    const logger = captureLogger();
    const sink = createStoreAuditSink(flaky, logger, { attempts: 1, sleep: async () => undefined });
    const s = await securedApp({}, { store: flaky, audit: sink });
    const token = await s.token(GP, 'system/*.rs');
    // The audit write hangs, yet the response comes back.
    expect((await s.as(token, '/fhir/Organization')).status).toBe(200);
    expect(sink.stats()).toEqual({ written: 0, pending: 1 });
    release();
    await sink.flush();
    expect(logger.lines.some((l) => l.includes('audit.write-failed'))).toBe(true);
    expect(sink.stats().pending).toBe(1);
    // The next audited request flushes it with its own.
    expect((await s.as(token, '/fhir/Organization')).status).toBe(200);
    await sink.flush();
    await sink.flush();
    expect(sink.stats()).toEqual({ written: 2, pending: 0 });
    const events = (await store.search('AuditEvent', {})) as Bundle<AuditEvent>;
    expect(events.total).toBe(2);
  });

  it('records one AuditEvent per request, with who, what, when and outcome, and no demographics', async () => {
    const s = await securedApp();
    const gp = await s.token(GP, 'system/ServiceRequest.crs system/*.rs');
    const body = exampleBody('01-gp-transaction-bundle.200');
    const created = await s.as(gp, '/fhir', { body });
    expect(created.status).toBe(200);
    const sr = ((await created.json()) as Bundle).entry
      ?.map((e) => e.response?.location)
      .find((l) => l?.startsWith('ServiceRequest/'))
      ?.split('/')[1];
    expect((await s.as(gp, `/fhir/ServiceRequest/${sr}`)).status).toBe(200);
    expect((await s.as(gp, '/fhir/ServiceRequest/missing')).status).toBe(404);
    expect((await s.as(gp, '/fhir/Patient?identifier=9990000018')).status).toBe(200);
    await s.audit.flush();
    const events = ((await s.store.search('AuditEvent', { _count: '100' })) as Bundle<AuditEvent>).entry?.map(
      (e) => e.resource as AuditEvent,
    );
    expect(events?.map((e) => [e.subtype?.[0]?.code, e.outcome])).toEqual([
      ['transaction', '0'],
      ['read', '0'],
      ['read', '4'],
      ['search-type', '0'],
    ]);
    const [write, read] = events as [AuditEvent, AuditEvent];
    expect(write.agent[0]?.who?.identifier?.value).toBe(GP);
    expect(write.agent[1]?.who?.identifier?.value).toBe('B99901');
    expect(write.entity?.some((e) => e.what?.reference === `ServiceRequest/${sr}`)).toBe(true);
    expect(write.entity?.some((e) => e.what?.reference?.startsWith('Task/'))).toBe(true);
    expect(read.entity?.map((e) => e.what?.reference).filter(Boolean)).toEqual([`ServiceRequest/${sr}`]);
    const text = JSON.stringify(events);
    for (const secret of ['9990000018', 'Okafor', 'Grace', '1948-03-02', 'Mill Lane']) {
      expect(text).not.toContain(secret);
    }
  });
});
