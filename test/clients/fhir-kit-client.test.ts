import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type {
  Bundle,
  CapabilityStatement,
  OperationOutcome,
  Resource,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { Client, type FhirResource } from 'fhir-kit-client';
import { http, passthrough } from 'msw';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { uniqueReferral } from '../../scripts/bench/referrals.ts';
import { clientAssertion, tokenForm } from '../../scripts/smart-client.ts';
import { testClientKey } from '../../scripts/test-client-keys.ts';
import type { TestApp } from '../support/app.ts';
import { server } from '../support/msw.ts';
import { exampleBody, seededApp } from '../support/referrals.ts';
import { GP, SP, securedApp, TOKEN_URL } from '../support/secured.ts';

// fhir-kit-client, a FHIR client written independently of this service, used as any GP system or
// care-plan viewer would use it: over HTTP, against the app listening on a loopback port.

const REFERRALS = 'https://fhir.riverside-medical.example/referrals';
const BUSINESS_STATUS = 'https://fhir.social-prescribing.example.org/CodeSystem/referral-business-status';

/** Starts the app on a free loopback port; resolves with its FHIR base and a way to stop it. */
async function listen(app: TestApp['app']): Promise<{ base: string; close: () => Promise<void> }> {
  const listener = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => listener.once('listening', resolve));
  const { port } = listener.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}/fhir`,
    close: () => new Promise((resolve) => listener.close(() => resolve())),
  };
}

/** What the client rejects with when the server answers an error. */
async function failure(promise: Promise<unknown>): Promise<{ status: number; data: OperationOutcome }> {
  const error = (await promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e: unknown) => e,
  )) as { response?: { status: number; data: OperationOutcome } };
  if (!error.response) throw error;
  return error.response;
}

const etagOf = (resource: object) =>
  Client.httpFor(resource as FhirResource).response?.headers.get('etag') ?? '';
/** An answer of fhir-kit-client (typed loosely, as FhirResource) read as the R4 type it is. */
const typed = async <T>(answer: Promise<FhirResource> | undefined) => (await answer) as unknown as T;
/** A resource as fhir-kit-client takes it (its own loose type). */
const fhir = (resource: object) => resource as FhirResource;
const idFrom = (location: string | undefined, type: string) =>
  new RegExp(`(?:^|/)${type}/([^/]+)`).exec(location ?? '')?.[1] ?? '';

/** Only the app on loopback is reachable; everything else stays closed (test/support/setup.ts). */
const openLoopback = () => server.use(http.all(/^http:\/\/127\.0\.0\.1:\d+\//, () => passthrough()));
beforeEach(openLoopback);

describe('fhir-kit-client, in the open local mode', () => {
  let client: Client;
  let close: () => Promise<void>;
  let base: string;
  // The example referral, once stored: its ServiceRequest, Patient and Task.
  let referralId = '';
  let patientId = '';
  let taskId = '';
  /**
   * The example referral's ids, found by its identifier, and posted without fhir-kit-client if it
   * is not there: the other tests do not depend on transaction() having worked.
   */
  let storing: Promise<void> | undefined;
  const stored = () => {
    storing ??= (async () => {
      const byIdentifier = `${base}/ServiceRequest?identifier=${encodeURIComponent(`${REFERRALS}|RMP-2026-000101`)}`;
      let found = (await (await fetch(byIdentifier)).json()) as Bundle<ServiceRequest>;
      if (!found.entry?.length) {
        const posted = await fetch(base, {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json' },
          body: JSON.stringify(exampleBody('01-gp-transaction-bundle.200')),
        });
        expect(posted.status).toBe(200);
        found = (await (await fetch(byIdentifier)).json()) as Bundle<ServiceRequest>;
      }
      const referral = found.entry?.[0]?.resource;
      referralId = referral?.id ?? '';
      patientId = idFrom(referral?.subject?.reference, 'Patient');
      const tasks = (await (
        await fetch(`${base}/Task?focus=ServiceRequest/${referralId}`)
      ).json()) as Bundle<Task>;
      taskId = tasks.entry?.[0]?.resource?.id ?? '';
      expect([referralId, patientId, taskId]).not.toContain('');
    })();
    return storing;
  };

  beforeAll(async () => {
    const { app } = await seededApp();
    ({ base, close } = await listen(app));
    client = new Client({ baseUrl: base });
  });
  afterAll(() => close());

  it('capabilityStatement(): R4 4.0.1, JSON, the referral, Task and summary interactions', async () => {
    const capability = await typed<CapabilityStatement>(client.capabilityStatement());
    expect(capability.resourceType).toBe('CapabilityStatement');
    expect(capability.fhirVersion).toBe('4.0.1');
    expect(capability.format).toContain('application/fhir+json');
    const rest = capability.rest?.[0];
    expect(rest?.mode).toBe('server');
    expect(rest?.interaction?.map((i) => i.code)).toContain('transaction');
    const interactions = (type: string) =>
      rest?.resource?.find((r) => r.type === type)?.interaction?.map((i) => i.code) ?? [];
    expect(interactions('ServiceRequest')).toEqual(
      expect.arrayContaining(['create', 'read', 'vread', 'history-instance', 'search-type']),
    );
    expect(interactions('Task')).toEqual(expect.arrayContaining(['read', 'update', 'patch', 'search-type']));
    const patient = rest?.resource?.find((r) => r.type === 'Patient');
    expect(patient?.operation?.map((o) => o.name)).toContain('social-prescribing-summary');
  });

  it('transaction(): the GP example referral, posted to [base]/, answered entry by entry', async () => {
    const response = await typed<Bundle>(
      client.transaction({
        body: exampleBody<FhirResource>('01-gp-transaction-bundle.200'),
      }),
    );
    expect(Client.httpFor(fhir(response)).request?.url).toBe(`${base}/`);
    expect(Client.httpFor(fhir(response)).response?.status).toBe(200);
    expect(response.resourceType).toBe('Bundle');
    expect(response.type).toBe('transaction-response');
    const entries = response.entry ?? [];
    // The person is the sender's own new record: created, as the referral's own parts are.
    expect(entries.map((e) => e.response?.status)).toEqual([
      '201 Created',
      '201 Created',
      '201 Created',
      '200 OK',
      '200 OK',
      '201 Created',
      '201 Created',
    ]);
    for (const entry of entries) {
      expect(entry.response?.location).toMatch(/^[A-Za-z]+\/[^/]+\/_history\/[^/]+$/);
      expect(entry.response?.etag).toMatch(/^W\/"[^"]+"$/);
    }
    await stored();
    expect(idFrom(entries[0]?.response?.location, 'Patient')).toBe(patientId);
    expect(idFrom(entries[6]?.response?.location, 'ServiceRequest')).toBe(referralId);
  });

  it('read() and vread(): the referral, with its ETag, and the same version by number', async () => {
    await stored();
    const referral = await typed<ServiceRequest>(
      client.read({
        resourceType: 'ServiceRequest',
        id: referralId,
      }),
    );
    expect(referral).toMatchObject({
      resourceType: 'ServiceRequest',
      id: referralId,
      status: 'active',
      intent: 'order',
      subject: { reference: `Patient/${patientId}` },
      identifier: [{ system: REFERRALS, value: 'RMP-2026-000101' }],
      code: { coding: [{ system: 'http://snomed.info/sct', code: '871731000000106' }] },
    });
    const version = referral.meta?.versionId ?? '';
    expect(etagOf(referral)).toBe(`W/"${version}"`);
    const same = await client.vread({ resourceType: 'ServiceRequest', id: referralId, version });
    expect(same).toEqual(referral);

    const missing = await failure(
      client.read({ resourceType: 'ServiceRequest', id: referralId.replace(/.$/, 'x') }),
    );
    expect(missing.status).toBe(404);
    expect(missing.data.resourceType).toBe('OperationOutcome');
    expect(missing.data.issue[0]?.code).toBe('not-found');
  });

  it('search(): the referral Task by focus', async () => {
    await stored();
    const found = await typed<Bundle<Task>>(
      client.search({
        resourceType: 'Task',
        searchParams: { focus: `ServiceRequest/${referralId}` },
      }),
    );
    expect(found.type).toBe('searchset');
    expect(found.entry).toHaveLength(1);
    const task = found.entry?.[0]?.resource;
    expect(task).toMatchObject({
      status: 'requested',
      intent: 'order',
      focus: { reference: `ServiceRequest/${referralId}` },
    });
    expect(task?.id).toBe(taskId);
  });

  it('update() with If-Match: the service accepts the referral; a stale ETag answers 412', async () => {
    await stored();
    const task = await typed<Task>(client.read({ resourceType: 'Task', id: taskId }));
    const etag = etagOf(task);
    expect(etag).toBe(`W/"${task.meta?.versionId}"`);
    const accepted = await typed<Task>(
      client.update({
        resourceType: 'Task',
        id: taskId,
        body: fhir({ ...task, status: 'accepted' }),
        options: { headers: { 'If-Match': etag } },
      }),
    );
    expect(accepted.status).toBe('accepted');
    expect(accepted.meta?.versionId).not.toBe(task.meta?.versionId);
    expect(etagOf(accepted)).toBe(`W/"${accepted.meta?.versionId}"`);

    const stale = await failure(
      client.update({
        resourceType: 'Task',
        id: taskId,
        body: fhir({ ...task, status: 'accepted' }),
        options: { headers: { 'If-Match': etag } },
      }),
    );
    expect(stale.status).toBe(412);
    expect(stale.data.resourceType).toBe('OperationOutcome');

    const withoutEtag = await failure(
      client.update({ resourceType: 'Task', id: taskId, body: fhir({ ...accepted, status: 'in-progress' }) }),
    );
    expect(withoutEtag.status).toBe(428);
  });

  it('patch() with If-Match: the referral started, with a business status', async () => {
    await stored();
    const task = await typed<Task>(client.read({ resourceType: 'Task', id: taskId }));
    const started = await typed<Task>(
      client.patch({
        resourceType: 'Task',
        id: taskId,
        jsonPatch: [
          { op: 'replace', path: '/status', value: 'in-progress' },
          {
            op: 'add',
            path: '/businessStatus',
            value: { coding: [{ system: BUSINESS_STATUS, code: 'contacted' }] },
          },
        ],
        options: { headers: { 'If-Match': etagOf(task) } },
      }),
    );
    expect(started.status).toBe('in-progress');
    expect(started.businessStatus?.coding?.[0]?.code).toBe('contacted');
    const read = await typed<Task>(client.read({ resourceType: 'Task', id: taskId }));
    expect(read.meta?.versionId).toBe(started.meta?.versionId);

    const illegal = await failure(
      client.patch({
        resourceType: 'Task',
        id: taskId,
        jsonPatch: [{ op: 'replace', path: '/status', value: 'requested' }],
        options: { headers: { 'If-Match': etagOf(read) } },
      }),
    );
    expect(illegal.status).toBe(409);
  });

  it('history() and vread(): every version of the Task, newest first', async () => {
    await stored();
    const history = await typed<Bundle<Task>>(client.history({ resourceType: 'Task', id: taskId }));
    expect(history.resourceType).toBe('Bundle');
    expect(history.type).toBe('history');
    const versions = (history.entry ?? []).map((e) => e.resource as Task);
    expect(versions.map((t) => t.status)).toEqual(['in-progress', 'accepted', 'requested']);
    expect(new Set(versions.map((t) => t.meta?.versionId)).size).toBe(3);
    const first = await typed<Task>(
      client.vread({
        resourceType: 'Task',
        id: taskId,
        version: versions[2]?.meta?.versionId ?? '',
      }),
    );
    expect(first.status).toBe('requested');
    expect(first).toEqual(versions[2]);
  });

  it('history paged by _count, followed with nextPage() to the first version', async () => {
    await stored();
    const statuses: string[] = [];
    let page: Bundle<Task> | undefined = await typed<Bundle<Task>>(
      client.request(`Task/${taskId}/_history?_count=1`),
    );
    let pages = 0;
    while (page && pages < 10) {
      pages++;
      expect(page.type).toBe('history');
      expect(page.entry).toHaveLength(1);
      statuses.push(...(page.entry ?? []).map((e) => e.resource?.status ?? ''));
      page = await typed<Bundle<Task> | undefined>(client.nextPage({ bundle: page as never }));
    }
    expect(statuses).toEqual(['in-progress', 'accepted', 'requested']);
  });

  it('search() paged by _count, through every page with nextPage()', async () => {
    await stored();
    for (let n = 0; n < 4; n++) {
      const posted = await fetch(base, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: uniqueReferral(n, 'fkc'),
      });
      expect(posted.status).toBe(200);
    }
    const seen: string[] = [];
    const totals: (number | undefined)[] = [];
    let page = await typed<Bundle<ServiceRequest> | undefined>(
      client.search({
        resourceType: 'ServiceRequest',
        searchParams: { _count: 2 },
      }),
    );
    let pages = 0;
    while (page && pages < 10) {
      pages++;
      expect(page.type).toBe('searchset');
      expect(page.entry?.length).toBeLessThanOrEqual(2);
      totals.push(page.total);
      seen.push(...(page.entry ?? []).map((e) => e.resource?.id ?? ''));
      page = await typed<Bundle<ServiceRequest> | undefined>(client.nextPage({ bundle: page as never }));
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect(seen).toContain(referralId);
    expect(totals).toEqual([5, 5, 5]);
  });

  it('operation(): the $social-prescribing-summary of the Patient', async () => {
    await stored();
    const summary = await typed<Bundle>(
      client.operation({
        resourceType: 'Patient',
        id: patientId,
        name: 'social-prescribing-summary',
        method: 'GET',
      }),
    );
    expect(Client.httpFor(fhir(summary)).request?.url).toBe(
      `${base}/Patient/${patientId}/$social-prescribing-summary`,
    );
    expect(summary.resourceType).toBe('Bundle');
    expect(summary.type).toBe('collection');
    const resources = (summary.entry ?? []).map((e) => e.resource as Resource);
    const byType = (type: string) => resources.filter((r) => r.resourceType === type);
    expect(byType('Patient').map((r) => r.id)).toEqual([patientId]);
    expect(byType('ServiceRequest').map((r) => r.id)).toEqual([referralId]);
    expect(byType('Task').map((r) => r.id)).toEqual([taskId]);
  });

  it('operation(): $validate of a ServiceRequest, a good one and a bad one', async () => {
    await stored();
    const referral = await typed<ServiceRequest>(
      client.read({
        resourceType: 'ServiceRequest',
        id: referralId,
      }),
    );
    const { id: _id, meta: _meta, ...unsaved } = referral;
    const good = await typed<OperationOutcome>(
      client.operation({
        resourceType: 'ServiceRequest',
        name: '$validate',
        input: fhir(unsaved),
      }),
    );
    expect(good.resourceType).toBe('OperationOutcome');
    expect(good.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal')).toEqual([]);

    // An invalid resource is the operation's answer, not its failure: 200 with the errors.
    const answer = await typed<OperationOutcome>(
      client.operation({
        resourceType: 'ServiceRequest',
        name: '$validate',
        input: fhir({ ...unsaved, status: 'not-a-status' }),
      }),
    );
    expect(Client.httpFor(fhir(answer)).response?.status).toBe(200);
    expect(answer.resourceType).toBe('OperationOutcome');
    expect(answer.issue).toContainEqual(
      expect.objectContaining({
        severity: 'error',
        expression: expect.arrayContaining(['ServiceRequest.status']),
      }),
    );
  });
});

describe('fhir-kit-client with bearer tokens, against the secured app', () => {
  let close: () => Promise<void>;
  let base: string;
  let gpToken: string;
  let spToken: string;

  beforeAll(async () => {
    const secured = await securedApp();
    ({ base, close } = await listen(secured.app));
    // SMART Backend Services at the listening service's own token endpoint, on the app's clock.
    openLoopback();
    const tokenUrl = base.replace(/\/fhir$/, '/oauth2/token');
    const token = async (clientId: string, scope: string) => {
      // Addressed to the facade's public base URL, whatever address the request goes to.
      const assertion = await clientAssertion(testClientKey(clientId), TOKEN_URL, { now: secured.now() });
      const response = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: tokenForm(assertion, scope),
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { access_token: string }).access_token;
    };
    gpToken = await token(GP, 'system/ServiceRequest.crs system/Task.u system/*.rs');
    spToken = await token(SP, 'system/*.rs system/Task.rus');
  });
  afterAll(() => close());

  it('the GP system sends and reads its referral; the service accepts it; no token gets 401', async () => {
    const anonymous = new Client({ baseUrl: base });
    expect((await typed<CapabilityStatement>(anonymous.capabilityStatement())).fhirVersion).toBe('4.0.1');
    const refused = await failure(anonymous.read({ resourceType: 'ServiceRequest', id: 'anything' }));
    expect(refused.status).toBe(401);
    expect(refused.data.resourceType).toBe('OperationOutcome');

    const gp = new Client({ baseUrl: base, bearerToken: gpToken });
    const answer = await typed<Bundle>(
      gp.transaction({
        body: exampleBody<FhirResource>('01-gp-transaction-bundle.200'),
      }),
    );
    expect(answer.type).toBe('transaction-response');
    const referralId = idFrom(answer.entry?.[6]?.response?.location, 'ServiceRequest');
    const referral = await typed<ServiceRequest>(
      gp.read({
        resourceType: 'ServiceRequest',
        id: referralId,
      }),
    );
    expect(referral.status).toBe('active');

    const service = new Client({ baseUrl: base });
    service.bearerToken = spToken;
    const tasks = await typed<Bundle<Task>>(
      service.search({
        resourceType: 'Task',
        searchParams: { focus: `ServiceRequest/${referralId}` },
      }),
    );
    const task = tasks.entry?.[0]?.resource as Task;
    expect(task.status).toBe('requested');
    const accepted = await typed<Task>(
      service.update({
        resourceType: 'Task',
        id: task.id ?? '',
        body: fhir({ ...task, status: 'accepted' }),
        // Found by a search: its version is in meta (a search answer has no ETag per entry).
        options: { headers: { 'If-Match': `W/"${task.meta?.versionId}"` } },
      }),
    );
    expect(accepted.status).toBe('accepted');

    // The GP system may read its referral's Task, but only the receiving service moves it on.
    const byGp = await typed<Task>(gp.read({ resourceType: 'Task', id: task.id ?? '' }));
    expect(byGp.status).toBe('accepted');
    const notTheirs = await failure(
      gp.update({
        resourceType: 'Task',
        id: task.id ?? '',
        body: fhir({ ...byGp, status: 'in-progress' }),
        options: { headers: { 'If-Match': etagOf(byGp) } },
      }),
    );
    expect(notTheirs.status).toBe(403);
  });
});
