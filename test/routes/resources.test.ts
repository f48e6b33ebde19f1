import type { Organization } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { call, createTestApp, expectOutcome } from '../support/app.ts';

const organization = (code: string): Organization => ({
  resourceType: 'Organization',
  identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: code }],
  name: `Practice ${code}`,
});

describe('pass-through read surface', () => {
  it('reads a resource with ETag and Last-Modified', async () => {
    const { app, store } = createTestApp();
    const created = await store.create(organization('A00001'));
    const response = await call(app, `/fhir/Organization/${created.id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe(`W/"${created.meta?.versionId}"`);
    expect(response.headers.get('last-modified')).toBe(
      new Date(created.meta?.lastUpdated as string).toUTCString(),
    );
    expect(await response.json()).toMatchObject({ resourceType: 'Organization', id: created.id });
  });

  it('answers 304 when the client already has the current version', async () => {
    const { app, store } = createTestApp();
    const created = await store.create(organization('A00002'));
    const response = await call(app, `/fhir/Organization/${created.id}`, {
      headers: { 'if-none-match': `W/"${created.meta?.versionId}"` },
    });
    expect(response.status).toBe(304);
    expect(await response.text()).toBe('');
  });

  it('answers 404 for a missing resource and for a type it does not serve', async () => {
    const { app } = createTestApp();
    await expectOutcome(await call(app, '/fhir/Patient/does-not-exist'), 404, 'not-found');
    await expectOutcome(await call(app, '/fhir/Medication/1'), 404, 'not-supported');
    await expectOutcome(await call(app, '/fhir/Account'), 404, 'not-supported');
  });

  it('reads versions and history', async () => {
    const { app, store } = createTestApp();
    const v1 = await store.create(organization('A00003'));
    const v2 = await store.update({ ...v1, name: 'Renamed practice' });
    const old = await call(app, `/fhir/Organization/${v1.id}/_history/${v1.meta?.versionId}`);
    expect((await old.json()).name).toBe('Practice A00003');
    const history = await (await call(app, `/fhir/Organization/${v1.id}/_history`)).json();
    expect(history.type).toBe('history');
    expect(history.entry.map((e: { resource: Organization }) => e.resource.meta?.versionId)).toEqual([
      v2.meta?.versionId,
      v1.meta?.versionId,
    ]);
  });

  it('pages search results with links that lead back to the facade', async () => {
    const { app, store } = createTestApp({ PUBLIC_BASE_URL: 'https://sp.example.nhs.uk' });
    for (let i = 0; i < 25; i++) await store.create(organization(`P${String(i).padStart(5, '0')}`));
    const first = await (await call(app, '/fhir/Organization?_count=10')).json();
    expect(first.entry).toHaveLength(10);
    expect(first.total).toBe(25);
    const next = first.link.find((l: { relation: string }) => l.relation === 'next').url;
    expect(next).toBe('https://sp.example.nhs.uk/fhir/Organization?_count=10&_offset=10');
    for (const entry of first.entry)
      expect(entry.fullUrl).toMatch(/^https:\/\/sp\.example\.nhs\.uk\/fhir\/Organization\//);
    const second = await (await call(app, new URL(next).pathname + new URL(next).search)).json();
    expect(second.entry).toHaveLength(10);
    expect(second.link.map((l: { relation: string }) => l.relation)).toEqual(['self', 'previous', 'next']);
  });

  it('bounds the page size and searches by identifier', async () => {
    const { app, store } = createTestApp();
    await store.create(organization('Z99999'));
    const bundle = await (
      await call(
        app,
        '/fhir/Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code|Z99999&_count=5000',
      )
    ).json();
    expect(bundle.entry).toHaveLength(1);
    expect(bundle.link[0].url).toContain('_count=100');
  });

  it('refuses bad paging values and the store’s internal search parameters', async () => {
    const { app } = createTestApp();
    await expectOutcome(await call(app, '/fhir/Organization?_count=-1'), 400, 'invalid');
    await expectOutcome(await call(app, '/fhir/Organization?_offset=abc'), 400, 'invalid');
    await expectOutcome(await call(app, '/fhir/Organization?_project=x'), 400, 'invalid');
    await expectOutcome(await call(app, '/fhir/Organization?_compartment:missing=true'), 400, 'invalid');
  });

  it('refuses a search parameter the type does not define, instead of ignoring it', async () => {
    const { app } = createTestApp();
    await expectOutcome(await call(app, '/fhir/Organization?no-such-param=1'), 400, 'invalid');
  });
});

describe('health', () => {
  it('answers liveness without touching the store', async () => {
    const broken = createTestApp().store;
    const { app } = createTestApp(
      {},
      { store: { ...broken, ping: () => Promise.reject(new Error('down')) } },
    );
    const response = await call(app, '/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'pass' });
  });

  it('answers readiness from an authenticated store round trip', async () => {
    const { app } = createTestApp();
    expect((await call(app, '/health/ready')).status).toBe(200);
  });

  it('answers 503 with an OperationOutcome when the store is unreachable', async () => {
    const broken = createTestApp().store;
    const { app } = createTestApp(
      {},
      { store: { ...broken, ping: () => Promise.reject(new Error('down')) } },
    );
    await expectOutcome(await call(app, '/health/ready'), 503, 'transient');
  });
});

describe('search values', () => {
  it('refuses a value of the wrong form for its parameter, naming the parameter and not the value', async () => {
    const { app } = createTestApp();
    for (const query of ['birthdate=not-a-date', '_lastUpdated=gt2026-13-45x']) {
      const response = await call(app, `/fhir/Patient?${query}`);
      const outcome = await expectOutcome(response, 400, 'invalid');
      expect(JSON.stringify(outcome)).not.toMatch(/not-a-date|2026-13-45x/);
      expect(outcome.issue[0].expression).toEqual([query.split('=')[0]]);
    }
    expect((await call(app, '/fhir/Patient?birthdate=ge1948-03-02')).status).toBe(200);
  });
});
