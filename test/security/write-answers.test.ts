import type { Bundle, BundleEntry, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { all, exampleBody } from '../support/referrals.ts';
import { CLIENTS_JSON, COMMUNITY, GP, securedApp } from '../support/secured.ts';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';

/** The registry of examples/auth, with the community centre's scopes replaced. */
function registryWithCommunityScopes(scopes: string[]): string {
  const registry = JSON.parse(CLIENTS_JSON) as { clients: { clientId: string; scopes: string[] }[] };
  for (const client of registry.clients) if (client.clientId === COMMUNITY) client.scopes = scopes;
  return JSON.stringify(registry);
}

/**
 * The GP's example referral re-sent as the community centre (RCC01): its own organisation and
 * referral identifier, and the person as given (by default only the NHS number of the GP's patient).
 */
function communityReferral(patient: Partial<Patient> = {}, id = 'RCC-2026-0001'): Bundle {
  const bundle = exampleBody('01-gp-transaction-bundle.200');
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource;
    if (resource?.resourceType === 'Patient') {
      entry.resource = { resourceType: 'Patient', identifier: resource.identifier ?? [], ...patient };
    }
    if (resource?.resourceType === 'Organization' && resource.identifier?.[0]?.value === 'B99901') {
      resource.identifier = [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RCC01' }];
      resource.name = 'Riverside Community Centre (example)';
    }
    if (resource?.resourceType === 'ServiceRequest') {
      resource.identifier = [{ system: 'https://riverside-community.example/referrals', value: id }];
    }
  }
  return bundle;
}

const patientEntry = (bundle: Bundle): BundleEntry | undefined =>
  bundle.entry?.find((e) => e.response?.location?.startsWith('Patient/'));

async function gpAndCommunity(scopes: string[]) {
  const s = await securedApp({}, { clients: registryWithCommunityScopes(scopes) });
  const gp = await s.token(GP, 'system/ServiceRequest.crs system/*.rs');
  const sent = await s.as(gp, '/fhir', { body: exampleBody('01-gp-transaction-bundle.200') });
  expect(sent.status).toBe(200);
  const patientId = patientEntry((await sent.json()) as Bundle)?.response?.location?.split('/')[1] as string;
  const community = await s.token(COMMUNITY, scopes.join(' '));
  return { s, gp, community, patientId };
}

describe('a write answers with no more than a read would show', () => {
  it('another organisation sending a known NHS number gets its own record, as for an unknown one', async () => {
    // The same referral from the community centre, in a store where the GP referred the person
    // and in one where nobody did: the answers, and what the sender can read after, are alike.
    const scopes = ['system/ServiceRequest.cr', 'system/Patient.rs'];
    const seen: unknown[] = [];
    for (const gpReferredFirst of [true, false]) {
      const s = await securedApp({}, { clients: registryWithCommunityScopes(scopes) });
      let gpPatientId: string | undefined;
      if (gpReferredFirst) {
        const gp = await s.token(GP, 'system/ServiceRequest.crs system/*.rs');
        const sent = await s.as(gp, '/fhir', { body: exampleBody('01-gp-transaction-bundle.200') });
        gpPatientId = patientEntry((await sent.json()) as Bundle)?.response?.location?.split('/')[1];
      }
      const community = await s.token(COMMUNITY, scopes.join(' '));
      const response = await s.as(community, '/fhir', {
        body: communityReferral({ name: [{ family: 'Someone' }], birthDate: '1990-01-01' }),
      });
      expect(response.status).toBe(200);
      const text = await response.text();
      for (const secret of ['Okafor', 'Grace', '1948-03-02', 'Mill Lane']) expect(text).not.toContain(secret);
      const entry = patientEntry(JSON.parse(text) as Bundle);
      expect(entry?.response?.status).toBe('201 Created');
      const id = entry?.response?.location?.split('/')[1] as string;
      expect(id).not.toBe(gpPatientId);
      const read = await s.as(community, `/fhir/Patient/${id}`);
      expect(read.status).toBe(200);
      const own = (await read.json()) as Patient;
      expect(own.name?.[0]?.family).toBe('Someone');
      expect(own.birthDate).toBe('1990-01-01');
      const search = (await (
        await s.as(community, `/fhir/Patient?identifier=${NHS}|9990000018`)
      ).json()) as Bundle;
      expect(search.entry?.map((e) => e.resource?.id)).toEqual([id]);
      seen.push({
        status: entry?.response?.status,
        name: own.name,
        birthDate: own.birthDate,
        found: search.total,
      });
      if (gpPatientId) {
        expect((await s.as(community, `/fhir/Patient/${gpPatientId}`)).status).toBe(404);
        // Nor did the sender's demographics or sight reach the GP's record.
        const stored = await s.store.read<Patient>('Patient', gpPatientId);
        expect(stored.name?.map((n) => n.family)).toEqual(['Okafor']);
        expect(stored.birthDate).toBe('1948-03-02');
        expect(JSON.stringify(stored.meta?.security)).not.toContain('RCC01');
      }
    }
    expect(seen[0]).toEqual(seen[1]);
  });

  it('a client that may only create referrals gets locations, not resources', async () => {
    const { s, community } = await gpAndCommunity(['system/ServiceRequest.c']);
    const answer = (await (await s.as(community, '/fhir', { body: communityReferral() })).json()) as Bundle;
    expect(answer.entry?.length).toBeGreaterThan(0);
    for (const entry of answer.entry ?? []) {
      expect(entry.resource).toBeUndefined();
      expect(entry.response?.location).toMatch(/^(Patient\/[^/]+|[A-Za-z]+\/[^/]+\/_history\/[^/]+)$/);
    }
  });

  it('agreeing details (birth date and family name) give another organisation no sight of the record either', async () => {
    const { s, community, patientId } = await gpAndCommunity([
      'system/ServiceRequest.cr',
      'system/Patient.rs',
    ]);
    const response = await s.as(community, '/fhir', {
      body: communityReferral({ name: [{ family: 'Okafor' }], birthDate: '1948-03-02' }),
    });
    expect(response.status).toBe(200);
    const own = patientEntry((await response.json()) as Bundle);
    expect(own?.resource?.id).not.toBe(patientId);
    expect((await s.as(community, `/fhir/Patient/${patientId}`)).status).toBe(404);
    const history = await s.as(community, `/fhir/Patient/${patientId}/_history`);
    expect(history.status).toBe(404);
  });

  it('a plain-JSON referral id is the sending organisation’s own: another organisation may use the same one', async () => {
    const { s, gp, community } = await gpAndCommunity(['system/ServiceRequest.cr']);
    const referral = (givenName: string) => ({
      body: {
        referralId: 'WEB-1',
        patient: { nhsNumber: '9990000034', givenName, familyName: 'Rahman', birthDate: '1961-07-14' },
        referrer: { name: 'Sam Patel', organisation: { name: 'Sender' } },
        receivingServiceOdsCode: 'SPX01',
        reasons: [{ snomedCode: '422650009' }],
        consent: { given: true, date: '2026-11-19T14:00:00Z' },
        authoredOn: '2026-11-19T14:05:00Z',
      },
      headers: { 'content-type': 'application/json' },
    });
    const first = await s.as(gp, '/referrals', referral('Amir'));
    expect(first.status).toBe(201);
    const other = await s.as(community, '/referrals', referral('A.'));
    expect(other.status).toBe(201);
    const ids = [(await first.json()).serviceRequest.id, (await other.json()).serviceRequest.id];
    expect(new Set(ids).size).toBe(2);
    // Each sender's retry still finds its own referral.
    const retry = await s.as(gp, '/referrals', referral('Amir'));
    expect(retry.status).toBe(200);
    expect((await retry.json()).serviceRequest.id).toBe(ids[0]);
  });
});

describe('a referral naming what is on record outside itself', () => {
  /** Example 06 (one ServiceRequest naming its person by NHS number), sent as the community centre. */
  function single(nhs: string, consent?: string) {
    const body = exampleBody<Record<string, unknown>>('06-single-service-request.201');
    body.identifier = [{ system: 'https://riverside-community.example/referrals', value: `RCC-${nhs}` }];
    body.subject = { identifier: { system: NHS, value: nhs } };
    body.requester = {
      type: 'Organization',
      identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RCC01' },
    };
    if (consent) {
      body.contained = [];
      body.supportingInfo = [{ reference: consent }];
    }
    return { body };
  }

  it('tells no sender whether a person it cannot see is on record', async () => {
    const { s, community } = await gpAndCommunity(['system/ServiceRequest.c']);
    // 9990000018 is the GP's patient; 9990000042 is no one's.
    const known = await s.as(community, '/fhir/ServiceRequest', single('9990000018'));
    const unknown = await s.as(community, '/fhir/ServiceRequest', single('9990000042'));
    expect(known.status).toBe(422);
    expect(unknown.status).toBe(422);
    const issues = async (r: Response) =>
      ((await r.json()) as { issue: { code: string; expression?: string[] }[] }).issue.map((i) => [
        i.code,
        i.expression,
      ]);
    expect(await issues(known)).toEqual(await issues(unknown));
  });

  it('does not take another organisation’s consent as the person’s', async () => {
    const { s, community } = await gpAndCommunity(['system/ServiceRequest.c']);
    const [consent] = await all(s.store, 'Consent');
    const response = await s.as(
      community,
      '/fhir/ServiceRequest',
      single('9990000018', `Consent/${consent?.id}`),
    );
    expect(response.status).toBe(422);
    expect(JSON.stringify(await response.json())).toContain('supportingInfo[0] does not resolve');
  });
});
