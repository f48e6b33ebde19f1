import type { Patient } from '@medplum/fhirtypes';
import { delay, HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { createMedplumClient, createMedplumStore } from '../../src/medplum/store.ts';
import { call, createTestApp, expectOutcome } from '../support/app.ts';
import { fakeMedplum, medplumHandlers } from '../support/medplum-handlers.ts';
import { server } from '../support/msw.ts';

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

function remoteApp(settings: { secret?: string; timeoutMs?: number } = {}) {
  const store = createMedplumStore(
    createMedplumClient({
      baseUrl: 'https://medplum.test/',
      clientId: 'test-client',
      clientSecret: settings.secret ?? 'test-secret',
      timeoutMs: settings.timeoutMs ?? 2_000,
    }),
  );
  return createTestApp({}, { store }).app;
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
    const fake = fakeMedplum('https://medplum.test/', [patient]);
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
});
