import type { Bundle, Organization, Patient, Practitioner } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { GEOHASH_TAG_SYSTEM } from '../../src/fhir/geo.ts';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';
import { call, createTestApp, expectOutcome } from '../support/app.ts';

// Each refusal is paired with an accepted request of the same parameter: the refusal must come
// from the value (or modifier) alone, and never carry what was asked for.

const FAMILY = 'Okafor';
const THEIR_TAG = 'https://tags.example.org/campaign';

async function withData() {
  const test = createTestApp();
  const organization = await test.store.create<Organization>({
    resourceType: 'Organization',
    name: 'Riverside Practice',
  });
  const practitioner = await test.store.create<Practitioner>({
    resourceType: 'Practitioner',
    name: [{ family: 'Adeyemi' }],
  });
  const patient = await test.store.create<Patient>({
    resourceType: 'Patient',
    meta: {
      tag: [
        { system: OWN_SYSTEM.referralPart, code: 'R1/patient' },
        { system: THEIR_TAG, code: 'winter' },
      ],
    },
    name: [{ family: FAMILY, given: ['Ada'] }],
    birthDate: '1948-03-02',
    deceasedBoolean: false,
    active: true,
    generalPractitioner: [{ reference: `Practitioner/${practitioner.id}` }],
    managingOrganization: { reference: `Organization/${organization.id}` },
  });
  return { ...test, organization, practitioner, patient };
}

type App = Awaited<ReturnType<typeof withData>>['app'];

/** The valid request answers 200; the invalid one 400 naming `parameter`, without the value. */
async function pair(app: App, valid: string, invalid: string, parameter: string, code = 'invalid') {
  const ok = await call(app, valid);
  expect(ok.status, valid).toBe(200);
  const refused = await call(app, invalid);
  const outcome = await expectOutcome(refused, 400, code);
  expect(outcome.issue[0].expression, invalid).toEqual([parameter]);
  expect(JSON.stringify(outcome), invalid).not.toContain(FAMILY);
  return outcome;
}

const matches = async (response: Response) =>
  ((await response.json()) as Bundle).entry?.filter((e) => e.search?.mode !== 'include') ?? [];

describe('_sort', () => {
  it('takes only the parameters the type offers, and none on the labels and tags kept in meta', async () => {
    const { app } = await withData();
    for (const key of ['nonsense', '_security', '_tag', '_compartment', '_source', '_project', 'name,']) {
      await pair(app, '/fhir/Patient?_sort=-name,_lastUpdated', `/fhir/Patient?_sort=${key}`, '_sort');
    }
    await pair(app, '/fhir/Patient?_sort=_id', '/fhir/Patient?_sort=-nonsense', '_sort');
    await pair(app, '/fhir/Patient?_sort=birthdate', '/fhir/Patient?_sort:bogus=birthdate', '_sort');
  });

  it('is checked in a search by POST too', async () => {
    const { app } = await withData();
    const post = (body: string) =>
      app.request('http://facade.test/fhir/Patient/_search', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
    expect((await post('_sort=name')).status).toBe(200);
    await expectOutcome(await post('_sort=_tag'), 400, 'invalid');
  });
});

describe('_include and _revinclude', () => {
  it('_include starts from the searched type, by one of its reference parameters', async () => {
    const { app } = await withData();
    await pair(
      app,
      '/fhir/Organization?_include=Organization:partof',
      '/fhir/Organization?_include=Patient:organization',
      '_include',
    );
    for (const value of [
      'Patient:nonsense',
      'Patient:name',
      'Patient',
      'Patient:organization:Organization:x',
    ]) {
      await pair(
        app,
        '/fhir/Patient?_include=Patient:organization',
        `/fhir/Patient?_include=${value}`,
        '_include',
      );
    }
    await pair(
      app,
      '/fhir/Patient?_include=Patient:organization',
      '/fhir/Patient?_include=*',
      '_include',
      'not-supported',
    );
    await pair(
      app,
      '/fhir/Patient?_include=Patient:organization',
      '/fhir/Patient?_include=Patient:_compartment',
      '_include',
    );
    await pair(
      app,
      '/fhir/Patient?_include=Patient:organization',
      '/fhir/Patient?_include:bogus=Patient:organization',
      '_include',
    );
  });

  it('an _include target type is one the parameter points at and the service serves', async () => {
    const { app, patient } = await withData();
    const included = await call(
      app,
      `/fhir/Patient?_id=${patient.id}&_include=Patient:general-practitioner:Practitioner`,
    );
    const bundle = (await included.json()) as Bundle;
    expect(bundle.entry?.map((e) => e.resource?.resourceType).sort()).toEqual(['Patient', 'Practitioner']);
    for (const target of ['Medication', 'Patient', 'Banana']) {
      await pair(
        app,
        '/fhir/Patient?_include=Patient:general-practitioner:Organization',
        `/fhir/Patient?_include=Patient:general-practitioner:${target}`,
        '_include',
      );
    }
  });

  it('_revinclude comes from a served type whose reference parameter can point at the searched type', async () => {
    const { app } = await withData();
    for (const value of ['Goal:patient', 'Encounter:patient', 'Task:nonsense', 'Provenance:target:Task']) {
      await pair(
        app,
        '/fhir/ServiceRequest?_revinclude=Task:focus&_revinclude=Provenance:target:ServiceRequest',
        `/fhir/ServiceRequest?_revinclude=${value}`,
        '_revinclude',
      );
    }
  });

  it('the element name the directory readers use still includes', async () => {
    const { app } = await withData();
    expect((await call(app, '/fhir/HealthcareService?_include=HealthcareService:providedBy')).status).toBe(
      200,
    );
    expect((await call(app, '/fhir/Organization?_revinclude=HealthcareService:providedBy')).status).toBe(200);
  });
});

describe('_elements', () => {
  it('names elements of the type, on a search and on a read', async () => {
    const { app, patient } = await withData();
    await pair(
      app,
      '/fhir/Patient?_elements=name,birthDate',
      '/fhir/Patient?_elements=name,bogus',
      '_elements',
    );
    await pair(
      app,
      `/fhir/Patient/${patient.id}?_elements=meta,birthDate`,
      `/fhir/Patient/${patient.id}?_elements=name.family`,
      '_elements',
    );
    await pair(
      app,
      `/fhir/Patient/${patient.id}/_history/${patient.meta?.versionId}?_elements=name`,
      `/fhir/Patient/${patient.id}/_history/${patient.meta?.versionId}?_elements=resourceType`,
      '_elements',
    );
  });

  it('a choice element is named by its name, and keeps the value whatever its type', async () => {
    const { app, patient } = await withData();
    const read = (await (
      await call(app, `/fhir/Patient/${patient.id}?_elements=deceased`)
    ).json()) as Patient;
    expect(read.deceasedBoolean).toBe(false);
    expect(read.name).toBeUndefined();
    const typed = (await (
      await call(app, `/fhir/Patient/${patient.id}?_elements=deceasedBoolean`)
    ).json()) as Patient;
    expect(typed.deceasedBoolean).toBe(false);
    const summary = (await (await call(app, `/fhir/Patient/${patient.id}?_summary=true`)).json()) as Patient;
    expect(summary.deceasedBoolean).toBe(false);
  });
});

describe('the service’s own labels and tags', () => {
  it('_tag may not name a system of the service’s own, with or without a modifier', async () => {
    const { app } = await withData();
    const own = [...Object.values(OWN_SYSTEM), GEOHASH_TAG_SYSTEM];
    for (const system of own) {
      const value = encodeURIComponent(`${system}|R1/patient`);
      await pair(
        app,
        `/fhir/Patient?_tag=${encodeURIComponent(`${THEIR_TAG}|winter`)}`,
        `/fhir/Patient?_tag=${value}`,
        '_tag',
      );
      await pair(
        app,
        `/fhir/Patient?_tag:not=${encodeURIComponent(`${THEIR_TAG}|summer`)}`,
        `/fhir/Patient?_tag:not=${value}`,
        '_tag',
      );
    }
    // Spelled otherwise, a system still matches the store's case-blind comparison.
    const shouted = encodeURIComponent(`${OWN_SYSTEM.referralPart.toUpperCase()}|R1/PATIENT`);
    await pair(
      app,
      `/fhir/Patient?_tag=${encodeURIComponent(`${THEIR_TAG}|`)}`,
      `/fhir/Patient?_tag=${shouted}`,
      '_tag',
    );
    // A code alone matches a tag of any system, the service's among them.
    await pair(
      app,
      `/fhir/Patient?_tag=${encodeURIComponent(`${THEIR_TAG}|winter`)}`,
      '/fhir/Patient?_tag=R1/patient',
      '_tag',
    );
    // Whether anything is tagged at all tells of the service's own tags.
    await pair(
      app,
      '/fhir/Patient?birthdate:missing=false',
      '/fhir/Patient?_tag:missing=false',
      '_tag',
      'not-supported',
    );
  });

  it('a tag of another system is searched as before', async () => {
    const { app, patient } = await withData();
    const found = await matches(
      await call(app, `/fhir/Patient?_tag=${encodeURIComponent(`${THEIR_TAG}|winter`)}`),
    );
    expect(found.map((e) => e.resource?.id)).toEqual([patient.id]);
  });

  it('nor through a chain, _has, or the access labels', async () => {
    const { app } = await withData();
    const own = encodeURIComponent(`${OWN_SYSTEM.referralPart}|R1/patient`);
    const theirs = encodeURIComponent(`${THEIR_TAG}|winter`);
    await pair(
      app,
      `/fhir/Task?focus:Patient._tag=${theirs}`,
      `/fhir/Task?focus:Patient._tag=${own}`,
      'focus',
    );
    await pair(
      app,
      '/fhir/Patient?birthdate:missing=true',
      '/fhir/Patient?_security:missing=true',
      '_security',
    );
    await pair(
      app,
      '/fhir/Patient?active=true',
      `/fhir/Patient?_has:Task:patient:_tag=${own}`,
      '_has',
      'not-supported',
    );
  });
});

describe('modifiers', () => {
  it('only those R4 defines for the parameter’s type, and the store honours', async () => {
    const { app } = await withData();
    await pair(app, `/fhir/Patient?name:contains=${FAMILY}`, `/fhir/Patient?name:bogusmod=${FAMILY}`, 'name');
    await pair(app, `/fhir/Patient?name:exact=${FAMILY}`, `/fhir/Patient?name:not=${FAMILY}`, 'name');
    await pair(app, '/fhir/Patient?active:not=false', '/fhir/Patient?active:bogus=true', 'active');
    await pair(
      app,
      '/fhir/Patient?_lastUpdated=ge2020-01-01',
      '/fhir/Patient?_lastUpdated:bogus=ge2020-01-01',
      '_lastUpdated',
    );
    await pair(
      app,
      '/fhir/Patient?birthdate:missing=false',
      '/fhir/Patient?birthdate:missing=maybe',
      'birthdate',
    );
    await pair(
      app,
      '/fhir/Patient?birthdate=ge1948',
      '/fhir/Patient?birthdate:exact=1948-03-02',
      'birthdate',
    );
    await pair(
      app,
      '/fhir/Patient?gender:not=male',
      '/fhir/Patient?gender:text=female',
      'gender',
      'not-supported',
    );
    await pair(
      app,
      '/fhir/Patient?gender=female',
      '/fhir/Patient?gender:in=http://example.org/vs',
      'gender',
      'not-supported',
    );
    await pair(
      app,
      '/fhir/Patient?organization:missing=false',
      '/fhir/Patient?organization:identifier=a|b',
      'organization',
      'not-supported',
    );
  });

  it('a reference parameter’s type modifier finds by id within that type', async () => {
    const { app, patient, practitioner } = await withData();
    const found = await matches(
      await call(app, `/fhir/Patient?general-practitioner:Practitioner=${practitioner.id}`),
    );
    expect(found.map((e) => e.resource?.id)).toEqual([patient.id]);
    await pair(
      app,
      `/fhir/Patient?general-practitioner:Practitioner=Practitioner/${practitioner.id}`,
      `/fhir/Patient?general-practitioner:Medication=${practitioner.id}`,
      'general-practitioner',
    );
    await pair(
      app,
      `/fhir/Patient?general-practitioner:Organization=${practitioner.id}`,
      `/fhir/Patient?general-practitioner:Organization=Practitioner/${practitioner.id}`,
      'general-practitioner',
    );
  });

  it('a chain names parameters and modifiers of the types it passes through', async () => {
    const { app, patient } = await withData();
    const found = await matches(
      await call(app, '/fhir/Patient?general-practitioner:Practitioner.name=Adeyemi'),
    );
    expect(found.map((e) => e.resource?.id)).toEqual([patient.id]);
    for (const chain of [
      'general-practitioner:Practitioner.nonsense',
      'general-practitioner:Practitioner.name:bogus',
      'general-practitioner:Medication.name',
      'general-practitioner.name',
      'name.family',
    ]) {
      await pair(
        app,
        '/fhir/Patient?general-practitioner:Practitioner.name:contains=Adey',
        `/fhir/Patient?${chain}=Adeyemi`,
        chain.split(/[:.]/)[0] as string,
      );
    }
  });
});

describe('control parameters', () => {
  it('_total and paging take their values once, and no modifier', async () => {
    const { app } = await withData();
    await pair(app, '/fhir/Patient?_total=accurate', '/fhir/Patient?_total=bogus', '_total');
    await pair(app, '/fhir/Patient?_count=1', '/fhir/Patient?_count=1&_count=x', '_count');
    await pair(app, '/fhir/Patient?_count=1', '/fhir/Patient?_count:bogus=1', '_count');
    await pair(app, '/fhir/Patient?_summary=count', '/fhir/Patient?_summary:bogus=count', '_summary');
  });
});

describe('reads by id', () => {
  it('take _summary, _elements, _format and _pretty, and refuse anything else', async () => {
    const { app, organization } = await withData();
    const path = `/fhir/Organization/${organization.id}`;
    await pair(app, `${path}?_summary=true&_format=json&_pretty=true`, `${path}?bogus=1`, 'bogus');
    await pair(app, `${path}?_elements=name`, `${path}?name=Riverside`, 'name');
    await pair(app, `${path}?_elements=name`, `${path}?_elements:x=name`, '_elements:x');
    const version = `${path}/_history/${organization.meta?.versionId}`;
    await pair(app, `${version}?_elements=name`, `${version}?_sort=name`, '_sort');
  });
});

describe('chains as a tenant', () => {
  it('reach the directory, but not the audit trail any more than personal data', async () => {
    const { securedApp, GP } = await import('../support/secured.ts');
    const s = await securedApp();
    const gp = await s.token(GP, 'system/ServiceRequest.crs system/*.rs');
    const ods = 'https://fhir.nhs.uk/Id/ods-organization-code';
    expect((await s.as(gp, `/fhir/Task?owner:Organization.identifier=${ods}|SPX01`)).status).toBe(200);
    await expectOutcome(await s.as(gp, '/fhir/Task?focus:AuditEvent.outcome=0'), 400, 'invalid');
    await expectOutcome(await s.as(gp, '/fhir/Task?focus:ServiceRequest.status=active'), 400, 'invalid');
  });
});
