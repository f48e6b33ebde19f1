import type { Bundle, Resource } from '@medplum/fhirtypes';
import { base64url, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenForm } from '../../scripts/smart-client.ts';
import { testClientKey } from '../../scripts/test-client-keys.ts';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';
import { expectOutcome, TEST_NOW } from '../support/app.ts';
import { all, counts, exampleBody } from '../support/referrals.ts';
import {
  AUDITOR,
  assertionFor,
  BASE,
  CLIENTS_JSON,
  GP,
  type SecuredApp,
  SP,
  securedApp,
} from '../support/secured.ts';

// A second practice, registered beside the test clients, that must never see the first one's data.
const OTHER_GP = 'hillside-surgery-gp-system';
let otherKey: { clientId: string; jwk: Record<string, unknown> };

async function withOtherPractice(): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = 'hillside-1';
  otherKey = { clientId: OTHER_GP, jwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES384' } };
  const registry = JSON.parse(CLIENTS_JSON);
  registry.clients.push({
    clientId: OTHER_GP,
    organization: 'B99902',
    scopes: ['system/ServiceRequest.crs', 'system/*.rs'],
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384' }] },
  });
  return JSON.stringify(registry);
}

let s: SecuredApp;
let gpToken: string;
let otherToken: string;
let referral: Bundle;
let serviceRequestId: string;
let patientId: string;

async function otherPracticeToken(scope: string): Promise<string> {
  const key = otherKey as unknown as Parameters<
    typeof import('../../scripts/smart-client.ts').clientAssertion
  >[0];
  const { clientAssertion } = await import('../../scripts/smart-client.ts');
  const response = await s.tokenResponse(
    tokenForm(await clientAssertion(key, `${BASE}/oauth2/token`, { now: TEST_NOW }), scope),
  );
  return ((await response.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  s = await securedApp({}, { clients: await withOtherPractice() });
  gpToken = await s.token(GP, 'system/ServiceRequest.crs system/*.rs');
  otherToken = await otherPracticeToken('system/ServiceRequest.crs system/*.rs');
  referral = exampleBody('01-gp-transaction-bundle.200');
  const response = await s.as(gpToken, '/fhir', { body: referral });
  expect(response.status).toBe(200);
  const stored = (await response.json()) as Bundle;
  const locationOf = (type: string) =>
    stored.entry
      ?.find((e) => e.response?.location?.startsWith(`${type}/`))
      ?.response?.location?.split('/')[1];
  serviceRequestId = locationOf('ServiceRequest') as string;
  patientId = locationOf('Patient') as string;
});

const tokenError = async (response: Response, status: number, error: string) => {
  expect(response.status).toBe(status);
  expect(response.headers.get('cache-control')).toBe('no-store');
  const body = await response.json();
  expect(body.error).toBe(error);
  // Fixed wording only: nothing about which check failed.
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
};

describe('attacks on the API', () => {
  it('no token: 401 with WWW-Authenticate, nothing read or stored', async () => {
    const before = await counts(s.store);
    const read = await s.app.request(`${BASE}/fhir/ServiceRequest/${serviceRequestId}`);
    await expectOutcome(read, 401, 'login');
    expect(read.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    const write = await s.app.request(`${BASE}/fhir`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify(referral),
    });
    await expectOutcome(write, 401, 'login');
    expect(await counts(s.store)).toEqual(before);
  });

  it('malformed token: 401 invalid_token', async () => {
    const response = await s.as('not.a.jwt', `/fhir/ServiceRequest/${serviceRequestId}`);
    await expectOutcome(response, 401, 'login');
    expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('expired token: 401 expired', async () => {
    const token = await s.token(GP, 'system/*.rs');
    s.setNow(new Date(TEST_NOW.getTime() + 10 * 60_000));
    try {
      await expectOutcome(await s.as(token, `/fhir/ServiceRequest/${serviceRequestId}`), 401, 'expired');
    } finally {
      s.setNow(TEST_NOW);
    }
  });

  it('token signed by an unknown key: 401', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(TEST_NOW.getTime() / 1000);
    const forged = await new SignJWT({ scope: 'system/*.rs', client_id: GP })
      .setProtectedHeader({ alg: 'ES256', kid: s.auth.service.signingKey.kid, typ: 'at+jwt' })
      .setIssuer(BASE)
      .setAudience(BASE)
      .setSubject(GP)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey);
    await expectOutcome(await s.as(forged, `/fhir/ServiceRequest/${serviceRequestId}`), 401, 'login');
  });

  it('alg none: refused as an access token and as a client assertion', async () => {
    const now = Math.floor(TEST_NOW.getTime() / 1000);
    const unsigned = (claims: Record<string, unknown>) =>
      `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${base64url.encode(JSON.stringify(claims))}.`;
    const token = unsigned({ iss: BASE, aud: BASE, sub: GP, scope: 'system/*.rs', iat: now, exp: now + 300 });
    await expectOutcome(await s.as(token, `/fhir/ServiceRequest/${serviceRequestId}`), 401, 'login');
    const assertion = unsigned({ iss: GP, sub: GP, aud: `${BASE}/oauth2/token`, jti: 'x', exp: now + 60 });
    await tokenError(await s.tokenResponse(tokenForm(assertion, 'system/*.rs')), 401, 'invalid_client');
  });

  it('HS256 signed with the public key: refused as an assertion and as an access token', async () => {
    const now = Math.floor(TEST_NOW.getTime() / 1000);
    const publicJwk = JSON.parse(CLIENTS_JSON).clients[0].jwks.keys[0];
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: publicJwk.kid })
      .setIssuer(GP)
      .setSubject(GP)
      .setAudience(`${BASE}/oauth2/token`)
      .setJti(crypto.randomUUID())
      .setExpirationTime(now + 60)
      .sign(secret);
    await tokenError(await s.tokenResponse(tokenForm(assertion, 'system/*.rs')), 401, 'invalid_client');
    const facadePublic = await crypto.subtle.exportKey('jwk', s.auth.service.signingKey.publicKey);
    const token = await new SignJWT({ scope: 'system/*.rs' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer(BASE)
      .setAudience(BASE)
      .setSubject(GP)
      .setExpirationTime(now + 300)
      .sign(new TextEncoder().encode(JSON.stringify(facadePublic)));
    await expectOutcome(await s.as(token, `/fhir/ServiceRequest/${serviceRequestId}`), 401, 'login');
  });

  it('wrong aud on the assertion: invalid_client', async () => {
    const assertion = await assertionFor(GP, { audience: 'https://elsewhere.example/token' });
    await tokenError(await s.tokenResponse(tokenForm(assertion, 'system/*.rs')), 401, 'invalid_client');
  });

  it('replayed jti: the second use of an assertion is refused', async () => {
    const assertion = await assertionFor(GP, { jti: 'once-only' });
    expect((await s.tokenResponse(tokenForm(assertion, 'system/*.rs'))).status).toBe(200);
    await tokenError(await s.tokenResponse(tokenForm(assertion, 'system/*.rs')), 401, 'invalid_client');
  });

  it('assertion valid too long (an hour): invalid_client', async () => {
    const assertion = await assertionFor(GP, { expiresIn: 3600 });
    await tokenError(await s.tokenResponse(tokenForm(assertion, 'system/*.rs')), 401, 'invalid_client');
  });

  it('assertion signed with another client’s key, or claiming another client: invalid_client', async () => {
    const spKey = testClientKey(SP);
    const asGp = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS384', kid: spKey.jwk.kid as string })
      .setIssuer(GP)
      .setSubject(GP)
      .setAudience(`${BASE}/oauth2/token`)
      .setJti(crypto.randomUUID())
      .setIssuedAt(Math.floor(TEST_NOW.getTime() / 1000))
      .setExpirationTime(Math.floor(TEST_NOW.getTime() / 1000) + 60)
      .sign(await importJWK(spKey.jwk, 'RS384'));
    await tokenError(await s.tokenResponse(tokenForm(asGp, 'system/*.rs')), 401, 'invalid_client');
    const unknown = await assertionFor(GP, { issuer: 'nobody' });
    await tokenError(await s.tokenResponse(tokenForm(unknown, 'system/*.rs')), 401, 'invalid_client');
  });

  it('scope escalation at the token endpoint: invalid_scope', async () => {
    for (const scope of [
      'system/CarePlan.c',
      'system/*.cruds',
      'system/AuditEvent.rs',
      'user/*.rs',
      'system/*.rs?x=1',
    ]) {
      await tokenError(await s.tokenResponse(tokenForm(await assertionFor(GP), scope)), 400, 'invalid_scope');
    }
  });

  it('write with a read-only scope: 403 forbidden, nothing stored', async () => {
    const readOnly = await s.token(GP, 'system/*.rs');
    const before = await counts(s.store);
    const other = exampleBody('02-several-reasons-with-wellbeing-baseline.200');
    await expectOutcome(await s.as(readOnly, '/fhir', { body: other }), 403, 'forbidden');
    expect(await counts(s.store)).toEqual(before);
  });

  it('a type the token does not grant: 403 forbidden', async () => {
    const referralsOnly = await s.token(GP, 'system/ServiceRequest.rs');
    await expectOutcome(await s.as(referralsOnly, `/fhir/Patient/${patientId}`), 403, 'forbidden');
  });

  it('another organisation’s referral by id: 404, exactly as for a resource that does not exist', async () => {
    const theirs = await s.as(otherToken, `/fhir/ServiceRequest/${serviceRequestId}`);
    const missing = await s.as(otherToken, '/fhir/ServiceRequest/00000000-0000-4000-8000-ffffffffffff');
    expect(theirs.status).toBe(404);
    expect(await theirs.json()).toEqual(await missing.json());
    for (const path of [`/fhir/Patient/${patientId}`, `/fhir/ServiceRequest/${serviceRequestId}/_history`]) {
      expect((await s.as(otherToken, path)).status).toBe(404);
    }
  });

  it('another organisation’s referral by search, however the query is written', async () => {
    const identifier = referral.entry?.find((e) => e.resource?.resourceType === 'ServiceRequest')
      ?.resource as {
      identifier: { system: string; value: string }[];
    };
    const id = identifier.identifier[0] as { system: string; value: string };
    const queries = [
      `/fhir/ServiceRequest?identifier=${encodeURIComponent(`${id.system}|${id.value}`)}`,
      `/fhir/ServiceRequest?_id=${serviceRequestId}`,
      `/fhir/ServiceRequest?_id=${serviceRequestId},nothing`,
      `/fhir/ServiceRequest?patient=Patient/${patientId}`,
      `/fhir/Patient?identifier=${encodeURIComponent('https://fhir.nhs.uk/Id/nhs-number|9990000018')}`,
      '/fhir/Task',
      '/fhir/Provenance',
      '/fhir/Consent',
    ];
    for (const query of queries) {
      const response = await s.as(otherToken, query);
      expect(response.status, query).toBe(200);
      const bundle = (await response.json()) as Bundle;
      expect(bundle.entry ?? [], query).toEqual([]);
      expect(bundle.total, query).toBe(0);
    }
    // A chain into personal data would test the record behind the referral: refused outright.
    for (const chain of ['subject:Patient.identifier', 'subject.birthdate', 'patient:Patient.family']) {
      const refused = await s.as(otherToken, `/fhir/ServiceRequest?${chain}=x`);
      expect(refused.status, chain).toBe(400);
      expect(await refused.text(), chain).toContain('chained search into Patient is not offered');
    }
    // The referrer and the receiving service do find it.
    const spToken = await s.token(SP, 'system/*.rs');
    for (const token of [gpToken, spToken]) {
      const found = (await (
        await s.as(token, `/fhir/ServiceRequest?_id=${serviceRequestId}`)
      ).json()) as Bundle;
      expect(found.total).toBe(1);
    }
  });

  it('the access labels are neither shown nor searchable', async () => {
    const read = (await (await s.as(gpToken, `/fhir/ServiceRequest/${serviceRequestId}`)).json()) as Resource;
    expect(JSON.stringify(read)).not.toContain(OWN_SYSTEM.organisationAccess);
    const label = encodeURIComponent(`${OWN_SYSTEM.organisationAccess}|B99901`);
    for (const query of [
      `/fhir/ServiceRequest?_security=${label}`,
      `/fhir/Patient?_has:ServiceRequest:patient:_security=${label}`,
      `/fhir/Task?focus:ServiceRequest._security=${label}`,
    ]) {
      await expectOutcome(await s.as(otherToken, query), 400, 'invalid');
    }
  });

  it('another organisation’s referral via _include', async () => {
    // A care plan of the other practice's that points at the first practice's referral.
    await s.store.create({
      resourceType: 'CarePlan',
      status: 'active',
      intent: 'plan',
      subject: { reference: `Patient/${patientId}` },
      activity: [{ reference: { reference: `ServiceRequest/${serviceRequestId}` } }],
      meta: { security: [{ system: OWN_SYSTEM.organisationAccess, code: 'B99902' }] },
    });
    const response = await s.as(
      otherToken,
      '/fhir/CarePlan?_include=CarePlan:activity-reference&_include=CarePlan:subject',
    );
    const bundle = (await response.json()) as Bundle;
    expect(bundle.entry?.map((e) => e.resource?.resourceType)).toEqual(['CarePlan']);
    // Iterating on from what was withheld could reach what it points at: refused.
    const iterated =
      '/fhir/CarePlan?_include=CarePlan:activity-reference&_include:iterate=ServiceRequest:requester';
    await expectOutcome(await s.as(otherToken, iterated), 400, 'invalid');
  });

  let theirPatientId: string;

  it('another organisation’s referral via _revinclude', async () => {
    // The other practice refers the same person: it keeps its own record of them, and neither
    // that record nor a search from it reaches the first practice's record or referral.
    const theirs = exampleBody<Bundle>('01-gp-transaction-bundle.200');
    const json = JSON.stringify(theirs)
      .replaceAll('B99901', 'B99902')
      .replaceAll('RMP-2026-000101', 'HILL-2026-1');
    const posted = await s.as(otherToken, '/fhir', { body: json });
    expect(posted.status).toBe(200);
    theirPatientId = ((await posted.json()) as Bundle).entry
      ?.map((e) => e.response?.location ?? '')
      .find((l) => l.startsWith('Patient/'))
      ?.split('/')[1] as string;
    expect(theirPatientId).toBeDefined();
    expect(theirPatientId).not.toBe(patientId);
    const revinclude =
      '_revinclude=ServiceRequest:patient&_revinclude=Task:patient&_revinclude=Provenance:target';
    const own = (await (
      await s.as(otherToken, `/fhir/Patient?_id=${theirPatientId}&${revinclude}`)
    ).json()) as Bundle;
    const requests = own.entry?.filter((e) => e.resource?.resourceType === 'ServiceRequest') ?? [];
    expect(requests).toHaveLength(1);
    expect(requests[0]?.resource?.id).not.toBe(serviceRequestId);
    expect(JSON.stringify(own)).not.toContain(serviceRequestId);
    expect(JSON.stringify(own)).not.toContain(patientId);
    const first = (await (
      await s.as(otherToken, `/fhir/Patient?_id=${patientId}&${revinclude}`)
    ).json()) as Bundle;
    expect(first.entry ?? []).toEqual([]);
  });

  it('another organisation’s referral via the summary operation', async () => {
    // The other practice referred the same person (above): the summary of its own record holds
    // its own referral only, and the first practice's record is not found.
    await expectOutcome(
      await s.as(otherToken, `/fhir/Patient/${patientId}/$social-prescribing-summary`),
      404,
      'not-found',
    );
    const response = await s.as(otherToken, `/fhir/Patient/${theirPatientId}/$social-prescribing-summary`);
    expect(response.status).toBe(200);
    const bundle = (await response.json()) as Bundle;
    const requests = bundle.entry?.filter((e) => e.resource?.resourceType === 'ServiceRequest') ?? [];
    expect(requests).toHaveLength(1);
    expect(bundle.entry?.map((e) => e.resource?.id)).not.toContain(serviceRequestId);
    const ownIds = new Set(bundle.entry?.map((e) => `${e.resource?.resourceType}/${e.resource?.id}`));
    for (const entry of bundle.entry ?? []) {
      if (entry.resource?.resourceType === 'Task') {
        expect(ownIds.has((entry.resource as { focus: { reference: string } }).focus.reference)).toBe(true);
      }
    }
    // A person the caller has never referred does not exist for it: the first practice refers
    // someone new, and the other practice's summary of that person is a 404.
    const sent = (await (
      await s.as(gpToken, '/fhir', { body: exampleBody('02-several-reasons-with-wellbeing-baseline.200') })
    ).json()) as Bundle;
    const stranger = sent.entry
      ?.map((e) => e.response?.location ?? '')
      .find((l) => l.startsWith('Patient/'))
      ?.split('/')[1];
    expect(stranger).toBeDefined();
    expect((await s.as(gpToken, `/fhir/Patient/${stranger}/$social-prescribing-summary`)).status).toBe(200);
    await expectOutcome(
      await s.as(otherToken, `/fhir/Patient/${stranger}/$social-prescribing-summary`),
      404,
      'not-found',
    );
  });

  it('another organisation’s referral via a tampered paging link', async () => {
    const first = (await (await s.as(otherToken, '/fhir/ServiceRequest?_count=1')).json()) as Bundle;
    for (const link of first.link ?? []) expect(link.url).not.toContain('_security');
    const tampered = [
      `/fhir/ServiceRequest?_count=100&_offset=0`,
      `/fhir/ServiceRequest?_count=1&_offset=1`,
      `/fhir/ServiceRequest?_count=1&_security=${encodeURIComponent(`${OWN_SYSTEM.organisationAccess}|B99901`)}`,
    ];
    for (const path of tampered) {
      const response = await s.as(otherToken, path);
      if (response.status === 400) continue;
      expect(JSON.stringify(await response.json()), path).not.toContain(serviceRequestId);
    }
  });

  it('creating a referral as another organisation: 403, nothing stored', async () => {
    const before = await counts(s.store);
    const body = JSON.stringify(exampleBody('02-several-reasons-with-wellbeing-baseline.200'));
    await expectOutcome(await s.as(otherToken, '/fhir', { body }), 403, 'forbidden');
    expect(await counts(s.store)).toEqual(before);
  });

  it('the audit trail is for the audit client only', async () => {
    await expectOutcome(await s.as(gpToken, '/fhir/AuditEvent'), 403, 'forbidden');
    const auditor = await s.token(AUDITOR, 'system/AuditEvent.rs');
    await s.audit.flush();
    const events = (await (await s.as(auditor, '/fhir/AuditEvent?_count=100')).json()) as Bundle;
    expect(events.total).toBeGreaterThan(0);
    await expectOutcome(await s.as(auditor, `/fhir/ServiceRequest/${serviceRequestId}`), 403, 'forbidden');
    expect((await all(s.store, 'AuditEvent')).length).toBeGreaterThan(0);
  });
});
