import type { Bundle, BundleLink, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  captureValues,
  compare,
  DEFAULT_EXAMPLE_CLIENT,
  EXAMPLE_FOLDERS,
  type ExampleRequest,
  loadExamples,
  substitute,
  toRequestInit,
} from '../../scripts/examples-lib.ts';
import { seedDirectory } from '../../scripts/seed-lib.ts';
import { fakeMedplum, medplumHandlers } from '../support/medplum-handlers.ts';
import { server } from '../support/msw.ts';
import { exampleBody } from '../support/referrals.ts';
import { auditSettled, remoteSecuredApp, remoteStore } from '../support/remote-medplum.ts';
import { CLIENTS_JSON, COMMUNITY, GP, SP } from '../support/secured.ts';

// The community centre's connector may also read and search here: what keeps the GP's referrals
// from it is tenancy, not a missing scope.
const registry = JSON.parse(CLIENTS_JSON) as { clients: { clientId: string; scopes: string[] }[] };
for (const client of registry.clients) if (client.clientId === COMMUNITY) client.scopes.push('system/*.rs');
const scopesOf = (clientId: string) =>
  registry.clients.find((c) => c.clientId === clientId)?.scopes.join(' ') ?? '';

const fake = fakeMedplum();
const handlers = medplumHandlers(fake);
beforeEach(() => {
  server.use(...handlers);
});

const app = await remoteSecuredApp(fake, JSON.stringify(registry));
const tokens = new Map<string, string>();
async function tokenOf(clientId: string): Promise<string> {
  let token = tokens.get(clientId);
  if (!token) {
    token = await app.token(clientId, scopesOf(clientId));
    tokens.set(clientId, token);
  }
  return token;
}
const as = async (clientId: string, path: string, init?: Parameters<typeof app.as>[2]) =>
  app.as(await tokenOf(clientId), path, init);

/** What Medplum holds apart from the audit trail. */
const stored = () => fake.resources.filter((r) => r.resourceType !== 'AuditEvent');
const references = (resources: Resource[]) => resources.map((r) => `${r.resourceType}/${r.id}`).sort();

afterAll(async () => {
  server.use(...handlers);
  await auditSettled(app);
});

describe('the directory, loaded by the seed script', () => {
  it('creates the organisations and the service, and a second run adds nothing', async () => {
    const store = remoteStore(fake);
    const first = await seedDirectory(store);
    expect(first.map((o) => [o.reference.split('/')[0], o.created])).toEqual([
      ['Organization', true],
      ['Organization', true],
      ['HealthcareService', true],
    ]);
    const again = await seedDirectory(store);
    expect(again.map((o) => o.created)).toEqual([false, false, false]);
    expect(again.map((o) => o.reference)).toEqual(first.map((o) => o.reference));
    expect(references(stored())).toEqual(first.map((o) => o.reference).sort());
    // The service points at the stored organisation, not at the seed file's urn:uuid.
    const service = fake.resources.find((r) => r.resourceType === 'HealthcareService');
    expect(service && 'providedBy' in service && service.providedBy?.reference).toBe(first[1]?.reference);
  });
});

/**
 * Every example, referrals then the whole journey, sent by its client with a token, as
 * `npm run examples` sends them to a secured service. Medplum leaves `total` out of a search
 * Bundle unless `_total=accurate` is asked; the facade fills it in on the last page, where it is
 * known, so the answers are the embedded store's.
 */
const values = new Map<string, string>();
for (const folder of EXAMPLE_FOLDERS) {
  describe(`examples/${folder} against the remote Medplum`, () => {
    for (const example of loadExamples(folder)) {
      it(example.name, async () => {
        const request = substitute(example.request, values);
        const expected = substitute(example.response, values);
        const response = await app.app.request(
          `http://facade.test${request.path}`,
          toRequestInit(request, await tokenOf(request.client ?? DEFAULT_EXAMPLE_CLIENT)),
        );
        expect(await captureValues(expected, response, values)).toEqual([]);
        expect(await compare(expected, response.clone())).toEqual([]);
      });
    }
  });
}

describe('the journey’s guarantees against the remote Medplum', () => {
  it('stores a referral sent again once: the same ids, nothing new', async () => {
    const referral = exampleBody('01-gp-transaction-bundle.200');
    const sr = referral.entry?.find((e) => e.resource?.resourceType === 'ServiceRequest')
      ?.resource as ServiceRequest;
    sr.identifier = [{ ...sr.identifier?.[0], value: 'RMP-2026-RETRY-1' }];
    const before = references(stored());
    const first = await as(GP, '/fhir', { body: referral });
    expect(first.status).toBe(200);
    const created = (await first.json()) as Bundle;
    const statusOf = (bundle: Bundle, type: string) =>
      bundle.entry?.find((e) => e.response?.location?.startsWith(`${type}/`))?.response?.status;
    expect(statusOf(created, 'ServiceRequest')).toBe('201 Created');
    const afterFirst = references(stored());
    expect(afterFirst.length).toBeGreaterThan(before.length);

    const again = await as(GP, '/fhir', { body: referral });
    expect(again.status).toBe(200);
    const retry = (await again.json()) as Bundle;
    expect(retry.entry?.map((e) => e.response?.location)).toEqual(
      created.entry?.map((e) => e.response?.location),
    );
    expect(retry.entry?.map((e) => e.response?.status)).toEqual(retry.entry?.map(() => '200 OK'));
    expect(references(stored())).toEqual(afterFirst);
  });

  it('accepts a new referral, keeps its care plan and shows both in the summary', async () => {
    const sent = await as(GP, '/fhir', {
      body: exampleBody('02-several-reasons-with-wellbeing-baseline.200'),
    });
    expect(sent.status).toBe(200);
    const locations = ((await sent.json()) as Bundle).entry?.map((e) => e.response?.location ?? '') ?? [];
    const idOf = (type: string) => locations.find((l) => l.startsWith(`${type}/`))?.split('/')[1] as string;
    const referral = idOf('ServiceRequest');
    const patient = idOf('Patient');

    const accepted = await as(SP, `/referrals/${referral}/$accept`, {
      body: {},
      headers: { 'content-type': 'application/json' },
    });
    expect(accepted.status).toBe(200);
    const plan = loadExamples('journey').find((e) => e.name.startsWith('05-'))?.request;
    const created = await as(SP, `/referrals/${referral}/care-plan`, {
      body: plan?.body,
      headers: { 'content-type': 'application/json' },
    });
    expect(created.status).toBe(201);
    const carePlan = ((await created.json()) as { carePlan: { id: string } }).carePlan.id;

    const summary = await as(GP, `/fhir/Patient/${patient}/$social-prescribing-summary`);
    expect(summary.status).toBe(200);
    const parts = ((await summary.json()) as Bundle).entry?.map((e) => e.resource as Resource) ?? [];
    expect(parts[0]).toMatchObject({ resourceType: 'Patient', id: patient });
    expect(parts.find((r) => r.resourceType === 'ServiceRequest')?.id).toBe(referral);
    expect(parts.find((r): r is Task => r.resourceType === 'Task')?.status).toBe('accepted');
    expect(parts.find((r) => r.resourceType === 'CarePlan')?.id).toBe(carePlan);
    for (const type of ['Goal', 'CareTeam', 'Consent']) {
      expect(parts.map((r) => r.resourceType)).toContain(type);
    }
  });

  it('refuses a Task update made against a version Medplum has replaced: 412', async () => {
    const sent = await as(GP, '/fhir', { body: exampleBody('03-existing-patient-referred-again.200') });
    const referral = ((await sent.json()) as Bundle).entry
      ?.map((e) => e.response?.location ?? '')
      .find((l) => l.startsWith('ServiceRequest/'))
      ?.split('/')[1];
    const search = (await (await as(SP, `/fhir/Task?focus=ServiceRequest/${referral}`)).json()) as Bundle;
    const task = search.entry?.[0]?.resource as Task;
    const read = await as(SP, `/fhir/Task/${task.id}`);
    const etag = read.headers.get('etag') as string;
    expect(etag).toMatch(/^W\/"[0-9a-f-]{36}"$/);
    const moved = await as(SP, `/fhir/Task/${task.id}`, {
      method: 'PUT',
      body: { ...task, status: 'accepted' },
      headers: { 'if-match': etag },
    });
    expect(moved.status).toBe(200);
    expect(moved.headers.get('etag')).not.toBe(etag);
    const stale = await as(SP, `/fhir/Task/${task.id}`, {
      method: 'PUT',
      body: { ...task, status: 'in-progress' },
      headers: { 'if-match': etag },
    });
    expect(stale.status).toBe(412);
    expect(((await stale.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');

    const history = (await (await as(SP, `/fhir/Task/${task.id}/_history`)).json()) as Bundle<Task>;
    expect(history.entry?.map((e) => e.resource?.status)).toEqual(['accepted', 'requested']);
    // The facade's own shape, whatever the store says (Medplum's server: GET and 200 for each).
    expect(history.entry?.map((e) => [e.request?.method, e.response?.status])).toEqual([
      ['PUT', '200 OK'],
      ['POST', '201 Created'],
    ]);
    for (const entry of history.entry ?? [])
      expect(entry.response?.etag).toBe(`W/"${entry.resource?.meta?.versionId}"`);
  });

  it('keeps each organisation’s referrals to itself and the service they were sent to', async () => {
    const plainReferral = loadExamples('referrals').find((e) => e.name.startsWith('04-'))
      ?.request as ExampleRequest;
    const sent = await as(COMMUNITY, '/referrals', {
      body: { ...(plainReferral.body as object), referralId: 'WEB-TENANCY-1' },
      headers: { 'content-type': 'application/json' },
    });
    expect(sent.status).toBe(201);
    const community = ((await sent.json()) as { serviceRequest: { id: string } }).serviceRequest.id;
    const gpReferrals = async (clientId: string) =>
      ((await (await as(clientId, '/fhir/ServiceRequest?_count=100')).json()) as Bundle).entry?.map(
        (e) => e.resource?.id,
      ) ?? [];

    expect((await as(GP, `/fhir/ServiceRequest/${community}`)).status).toBe(404);
    expect(await gpReferrals(GP)).not.toContain(community);
    const gpOwn = await gpReferrals(GP);
    expect(gpOwn.length).toBeGreaterThan(0);
    expect((await as(COMMUNITY, `/fhir/ServiceRequest/${gpOwn[0]}`)).status).toBe(404);
    const communityOwn = await gpReferrals(COMMUNITY);
    expect(communityOwn).toContain(community);
    for (const id of gpOwn) expect(communityOwn).not.toContain(id);
    const service = await gpReferrals(SP);
    expect(service).toContain(community);
    for (const id of gpOwn) expect(service).toContain(id);
  });

  it('pages a search with Medplum’s links, rewritten onto the facade, to the last page', async () => {
    const all = ((await (await as(SP, '/fhir/ServiceRequest?_count=100')).json()) as Bundle<ServiceRequest>)
      .entry;
    expect(all?.length).toBeGreaterThan(3);
    const seen: string[] = [];
    let next: string | undefined = '/fhir/ServiceRequest?_count=2';
    let pages = 0;
    while (next) {
      const page = (await (await as(SP, next)).json()) as Bundle;
      pages++;
      expect(JSON.stringify(page)).not.toContain('medplum.test');
      // Medplum's links repeat the tenancy label the facade added; the facade's never show it.
      expect(JSON.stringify(page.link)).not.toMatch(/_security|organisation-access/);
      // Unknown until the last page, where it is the matches before it and on it.
      if (page.link?.some((l) => l.relation === 'next')) expect(page.total).toBeUndefined();
      else expect(page.total).toBe(all?.length);
      seen.push(...(page.entry ?? []).map((e) => e.resource?.id as string));
      const link: BundleLink | undefined = page.link?.find((l) => l.relation === 'next');
      next = link ? new URL(link.url as string).pathname + new URL(link.url as string).search : undefined;
    }
    expect(pages).toBe(Math.ceil((all?.length ?? 0) / 2));
    expect(seen).toEqual(all?.map((e) => e.resource?.id));
    // A count is asked of Medplum as `_total=accurate`, which it answers.
    const count = (await (await as(SP, '/fhir/ServiceRequest?_summary=count')).json()) as Bundle;
    expect(count.total).toBe(all?.length);
  });
});
