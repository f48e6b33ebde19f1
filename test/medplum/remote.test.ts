import type { AuditEvent, Patient } from '@medplum/fhirtypes';
import { delay, HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { tokenForm } from '../../scripts/smart-client.ts';
import { type AuditSink, createStoreAuditSink } from '../../src/audit/audit-sink.ts';
import { createAuthMode } from '../../src/auth/mode.ts';
import { generateSigningKeyJwk } from '../../src/auth/tokens.ts';
import { OWN_SYSTEM, SYSTEM } from '../../src/fhir/systems.ts';
import { createMedplumClient, createMedplumStore } from '../../src/medplum/store.ts';
import { call, captureLogger, createTestApp, expectOutcome, TEST_NOW } from '../support/app.ts';
import { fakeMedplum, medplumHandlers } from '../support/medplum-handlers.ts';
import { server } from '../support/msw.ts';
import { assertionFor, CLIENTS_JSON, GP, TOKEN_URL } from '../support/secured.ts';

const patient: Patient = {
  resourceType: 'Patient',
  id: 'p1',
  meta: {
    versionId: '3',
    lastUpdated: '2026-11-01T10:00:00.000Z',
    project: 'internal-project',
    author: { reference: 'ClientApplication/x' },
  },
  identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009' }],
};

function remoteStore(settings: { secret?: string; timeoutMs?: number } = {}) {
  return createMedplumStore(
    createMedplumClient({
      baseUrl: 'https://medplum.test/',
      clientId: 'test-client',
      clientSecret: settings.secret ?? 'test-secret',
      timeoutMs: settings.timeoutMs ?? 2_000,
    }),
  );
}

function remoteApp(settings: { secret?: string; timeoutMs?: number } = {}) {
  return createTestApp({}, { store: remoteStore(settings) }).app;
}

/** The app on the remote Medplum with the test clients registered, its audit sink, and a GP token. */
async function securedRemoteApp() {
  const clock = () => TEST_NOW;
  const auth = await createAuthMode({
    clients: CLIENTS_JSON,
    signingKey: JSON.stringify(await generateSigningKeyJwk()),
    openWhenUnconfigured: false,
    clock,
  });
  const logger = captureLogger();
  let audit: AuditSink | undefined;
  const { app } = createTestApp(
    {},
    {
      store: remoteStore(),
      clock,
      auth,
      logger,
      // The sink the app makes by default, held here so the test can wait for its writes.
      auditFor: (store) => {
        audit = createStoreAuditSink(store, logger);
        return audit;
      },
    },
  );
  const issued = await app.request(TOKEN_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: tokenForm(await assertionFor(GP), 'system/*.rs'),
  });
  const { access_token } = (await issued.json()) as { access_token: string };
  return { app, audit: audit as AuditSink, logs: logger.lines, authorization: `Bearer ${access_token}` };
}

describe('remote Medplum through MedplumClient', () => {
  it('logs in with client credentials on the first 401 and reads through', async () => {
    const fake = fakeMedplum('https://medplum.test/', [patient]);
    server.use(...medplumHandlers(fake));
    const app = remoteApp();
    const response = await call(app, '/fhir/Patient/p1');
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe('W/"3"');
    const body = await response.json();
    expect(body.id).toBe('p1');
    expect(body.meta.project).toBeUndefined();
    expect(body.meta.author).toBeUndefined();
    expect(fake.tokenRequests).toBe(1);
    await call(app, '/fhir/Patient/p1');
    expect(fake.tokenRequests).toBe(1);
  });

  it('never sends credentials mode or cache modes workerd rejects', async () => {
    const fake = fakeMedplum('https://medplum.test/', [patient]);
    server.use(...medplumHandlers(fake));
    await call(remoteApp(), '/fhir/Patient/p1');
    for (const request of fake.seen) expect(request.credentials).not.toBe('include');
  });

  it('rewrites Medplum’s fullUrls and paging links onto the facade', async () => {
    const fake = fakeMedplum('https://medplum.test/', [patient, { ...patient, id: 'p2' }]);
    server.use(...medplumHandlers(fake));
    const text = await (await call(remoteApp(), '/fhir/Patient?_count=1')).text();
    expect(text).not.toContain('medplum.test');
    const bundle = JSON.parse(text);
    expect(bundle.entry[0].fullUrl).toBe('http://facade.test/fhir/Patient/p1');
    expect(bundle.link.find((l: { relation: string }) => l.relation === 'next').url).toBe(
      'http://facade.test/fhir/Patient?_count=1&_offset=1',
    );
  });

  it('maps Medplum’s 404 to a 404 OperationOutcome', async () => {
    server.use(...medplumHandlers(fakeMedplum()));
    await expectOutcome(await call(remoteApp(), '/fhir/Patient/missing'), 404, 'not-found');
  });

  it('maps a Medplum 500 to 502', async () => {
    server.use(
      http.get('https://medplum.test/fhir/R4/Patient/p1', () => new HttpResponse('oops', { status: 500 })),
    );
    await expectOutcome(await call(remoteApp(), '/fhir/Patient/p1'), 502, 'exception');
  });

  it('maps a Medplum 503 to 503 with Retry-After', async () => {
    server.use(
      http.get('https://medplum.test/fhir/R4/Patient/p1', () => new HttpResponse(null, { status: 503 })),
    );
    const response = await call(remoteApp(), '/fhir/Patient/p1');
    expect(response.headers.get('retry-after')).toBe('5');
    await expectOutcome(response, 503, 'transient');
  });

  it('maps a Medplum 429 to 503 throttled', async () => {
    server.use(
      http.get('https://medplum.test/fhir/R4/Patient/p1', () => new HttpResponse(null, { status: 429 })),
    );
    await expectOutcome(await call(remoteApp(), '/fhir/Patient/p1'), 503, 'throttled');
  });

  it('maps a network failure to 503', async () => {
    server.use(http.get('https://medplum.test/fhir/R4/Patient/p1', () => HttpResponse.error()));
    await expectOutcome(await call(remoteApp(), '/fhir/Patient/p1'), 503, 'transient');
  });

  it('maps a timeout to 504', async () => {
    server.use(
      http.get('https://medplum.test/fhir/R4/Patient/p1', async () => {
        await delay(1_000);
        return HttpResponse.json(patient);
      }),
    );
    await expectOutcome(await call(remoteApp({ timeoutMs: 50 }), '/fhir/Patient/p1'), 504, 'timeout');
  });

  it('maps refused facade credentials to 502, not to the caller’s 401', async () => {
    server.use(...medplumHandlers(fakeMedplum()));
    const outcome = await expectOutcome(await call(remoteApp({ secret: 'wrong' }), '/fhir/Patient/p1'), 502);
    expect(JSON.stringify(outcome)).not.toContain('wrong');
  });

  it('writes each request’s AuditEvent to Medplum after the response: request id, client, no patient data', async () => {
    const labelled: Patient = {
      ...patient,
      meta: {
        ...patient.meta,
        security: [{ system: OWN_SYSTEM.organisationAccess, code: 'B99901' }],
      },
      name: [{ family: 'Okafor', given: ['Grace'] }],
      birthDate: '1948-03-02',
    };
    const fake = fakeMedplum('https://medplum.test/', [labelled]);
    server.use(...medplumHandlers(fake));
    const { app, audit, logs, authorization } = await securedRemoteApp();

    const read = await call(app, '/fhir/Patient/p1', {
      headers: { authorization, 'x-request-id': 'remote-audit-read' },
    });
    expect(read.status).toBe(200);
    const search = await call(app, '/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009', {
      headers: { authorization, 'x-request-id': 'remote-audit-search' },
    });
    expect(search.status).toBe(200);
    // The responses did not wait for the writes; wait for them now (a write is queued just after
    // its response, and flushed until nothing is pending).
    for (let i = 0; i < 100; i++) {
      await audit.flush();
      const { written, pending } = audit.stats();
      if (written >= 2 && pending === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(audit.stats()).toEqual({ written: 2, pending: 0 });
    expect(logs.filter((l) => l.includes('audit.'))).toEqual([]);

    // Earlier tests' apps may still be retrying their own audit writes into this fake: pick ours
    // by request id.
    const requestIdOf = (e: AuditEvent) => e.entity?.[0]?.what?.identifier?.value ?? '';
    const events = fake.resources
      .filter((r): r is AuditEvent => r.resourceType === 'AuditEvent')
      .filter((e) => requestIdOf(e).startsWith('remote-audit-'));
    expect(events.map((e) => e.entity?.[0]?.what?.identifier)).toEqual([
      { system: OWN_SYSTEM.requestId, value: 'remote-audit-read' },
      { system: OWN_SYSTEM.requestId, value: 'remote-audit-search' },
    ]);
    const [readEvent, searchEvent] = events as [AuditEvent, AuditEvent];
    // Stored as Medplum stores a create: its own id, and a version id of its own (a UUID too).
    expect(readEvent.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(readEvent.meta?.versionId).toMatch(/^[0-9a-f-]{36}$/);
    for (const event of events) {
      expect(event.agent.map((a) => a.who?.identifier)).toEqual([
        { system: OWN_SYSTEM.client, value: GP },
        { system: SYSTEM.odsOrganization, value: 'B99901' },
      ]);
      expect(event.outcome).toBe('0');
    }
    expect(readEvent.subtype?.[0]?.code).toBe('read');
    expect(readEvent.entity?.map((e) => e.what?.reference).filter(Boolean)).toEqual(['Patient/p1']);
    expect(searchEvent.subtype?.[0]?.code).toBe('search-type');
    expect(searchEvent.entity?.[1]?.type?.code).toBe('Patient');
    const text = JSON.stringify(events);
    for (const patientData of ['9000000009', 'Okafor', 'Grace', '1948-03-02', 'identifier=']) {
      expect(text).not.toContain(patientData);
    }
  });
});

describe('readiness against a remote Medplum', () => {
  it('is ready when the project runs transaction Bundles all or nothing', async () => {
    const fake = fakeMedplum('https://medplum.test/', [patient]);
    server.use(...medplumHandlers(fake));
    const response = await call(remoteApp(), '/health/ready');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'pass',
      checks: { 'fhir-store': 'pass', 'fhir-transactions': 'pass' },
    });
    // The probe is a read: nothing was written (earlier tests' apps may still write AuditEvents).
    expect(fake.resources.filter((r) => r.resourceType !== 'AuditEvent').map((r) => r.id)).toEqual(['p1']);
  });

  it('is not ready, naming the missing transaction-bundles feature, when the project lacks it', async () => {
    const fake = fakeMedplum('https://medplum.test/', [patient], { features: [] });
    server.use(...medplumHandlers(fake));
    const response = await call(remoteApp(), '/health/ready');
    const outcome = await expectOutcome(response, 503, 'not-supported');
    expect(outcome.issue[0].diagnostics).toMatch(/transaction-bundles feature/);
    const text = JSON.stringify(outcome);
    for (const secret of ['test-secret', 'test-client', 'medplum.test']) expect(text).not.toContain(secret);
    expect(fake.resources.filter((r) => r.resourceType !== 'AuditEvent').map((r) => r.id)).toEqual(['p1']);
  });

  it('is not ready when Medplum refuses the facade’s credentials, and says no more', async () => {
    server.use(...medplumHandlers(fakeMedplum()));
    const outcome = await expectOutcome(
      await call(remoteApp({ secret: 'wrong' }), '/health/ready'),
      503,
      'transient',
    );
    expect(JSON.stringify(outcome)).not.toContain('wrong');
  });
});
