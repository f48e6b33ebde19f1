import { readFileSync } from 'node:fs';
import type {
  Bundle,
  CarePlan,
  CareTeam,
  QuestionnaireResponse,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { UpstreamError, type UpstreamFailure } from '../../src/medplum/errors.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { call } from '../support/app.ts';
import { exampleBody, seededApp } from '../support/referrals.ts';
import { GP, SP, securedApp } from '../support/secured.ts';

// Medplum timing out or down is never taken for an absence, a refusal or bad input. The ids are
// real: a referral is sent, accepted, given a care plan and an outcome while the store is healthy.
// Then Medplum goes down, and for every route that reads, every point at which it can go down is
// tried: the request's first k reads are answered and every read after them fails, for each k
// from 0 (nothing answers) up to the reads the route makes. Each time the answer is 504 (timeout)
// or 503 (unavailable) with Retry-After and an OperationOutcome, never 403, 404, 409 or 422 from a
// failed read taken for "not there" or "not yours". Writes fail throughout, so the stored journey
// never changes; a write attempted after a read failed is recorded, since a route may write
// only what it could check.

/**
 * The embedded store, which can be made to fail as a slow or unreachable Medplum would: during
 * an outage, each request's first `answered` reads succeed and every later read and every write
 * throws the failure. Audit records (written after the response, and not what is tested here)
 * pass through.
 */
function switchableStore(inner: FhirStore) {
  let failure: UpstreamFailure | undefined;
  let answered = Number.POSITIVE_INFINITY;
  let reads = 0;
  let readFailed = false;
  let writesAfterFailedRead: string[] = [];
  let writes = 0;
  const reading = () => {
    if (!failure) return;
    if (reads++ >= answered) {
      readFailed = true;
      throw new UpstreamError(failure);
    }
  };
  const writing = (type: string | undefined, what: string) => {
    if (!failure || type === 'AuditEvent') return;
    writes++;
    if (readFailed) writesAfterFailedRead.push(what);
    throw new UpstreamError(failure);
  };
  const store: FhirStore = {
    async read(type, id) {
      reading();
      return inner.read(type, id);
    },
    async readVersion(type, id, versionId) {
      reading();
      return inner.readVersion(type, id, versionId);
    },
    async history(type, id) {
      reading();
      return inner.history(type, id);
    },
    async search(type, query) {
      reading();
      return inner.search(type, query);
    },
    async create(resource) {
      writing(resource.resourceType, `create ${resource.resourceType}`);
      return inner.create(resource);
    },
    async update(resource, options) {
      writing(resource.resourceType, `update ${resource.resourceType}/${resource.id}`);
      return inner.update(resource, options);
    },
    async delete(type, id) {
      writing(type, `delete ${type}/${id}`);
      return inner.delete(type, id);
    },
    async bundle(bundle) {
      const entries = bundle.entry ?? [];
      // A batch of searches is a read.
      if (entries.length > 0 && entries.every((e) => e.request?.method === 'GET')) {
        reading();
        return inner.bundle(bundle);
      }
      const type = entries.every((e) => e.resource?.resourceType === 'AuditEvent') ? 'AuditEvent' : undefined;
      writing(
        type,
        `${bundle.type} of ${entries.map((e) => `${e.request?.method} ${e.resource?.resourceType ?? e.request?.url}`).join(', ')}`,
      );
      return inner.bundle(bundle);
    },
    async ping() {
      reading();
      return inner.ping();
    },
  };
  return {
    store,
    /** Medplum fails this way from now on (`undefined`: it is healthy again). */
    fail(next: UpstreamFailure | undefined) {
      failure = next;
    },
    /** Before a request: how many of its reads are answered before Medplum goes down. */
    answer(count: number) {
      answered = count;
      reads = 0;
      readFailed = false;
      writesAfterFailedRead = [];
      writes = 0;
    },
    /** After a request: the reads it made, the writes it tried, and those tried after a read failed. */
    seen: () => ({ reads, readFailed, writes, writesAfterFailedRead }),
  };
}

type Who = 'gp' | 'sp';
type Init = { method?: string; body?: unknown; headers?: Record<string, string> };

/** A seeded app after a healthy journey, with the ids and versions it left. */
interface World {
  send(who: Who, path: string, init?: Init): Promise<Response>;
  outage: ReturnType<typeof switchableStore>;
  /** The store as the app sees it; only for checks made while it is healthy. */
  store: FhirStore;
  patientId: string;
  srId: string;
  taskId: string;
  task: Task;
  taskEtag: string;
  carePlanId: string;
  carePlan: CarePlan;
  carePlanEtag: string;
  careTeam: CareTeam;
  careTeamEtag: string;
  questionnaireResponseId: string;
}

const GP_SCOPES = 'system/ServiceRequest.crs system/Task.u system/*.rs';
const SP_SCOPES =
  'system/*.rs system/Task.rus system/CarePlan.cruds system/Goal.cruds system/CareTeam.cruds system/QuestionnaireResponse.crs system/Consent.cu';

const REFERRAL_SYSTEM = 'https://fhir.riverside-medical.example/referrals';
const REFERRAL_ID = 'RMP-2026-000101';
/** The NHS number of the person referred in example 01. */
const JOURNEY_NHS_NUMBER = '9990000018';
const ONS4 = 'https://fhir.social-prescribing.example.org/Questionnaire/ons4-personal-wellbeing';
const CATEGORY =
  'https://fhir.social-prescribing.example.org/CodeSystem/social-prescribing-activity-category';
const PLAIN = { 'content-type': 'application/json' };

/** The body of an example request in `examples/journey/`. */
function journeyBody<T = Record<string, unknown>>(name: string): T {
  const path = new URL(`../../examples/journey/${name}.request.json`, import.meta.url);
  return JSON.parse(readFileSync(path, 'utf8')).body as T;
}

/** Sends, insisting on the status a healthy store gives; answers the parsed body. */
async function expectStatus<T>(response: Promise<Response>, status: number, step: string): Promise<T> {
  const answer = await response;
  const text = await answer.text();
  expect(answer.status, `${step}: ${text}`).toBe(status);
  return JSON.parse(text) as T;
}

/** The app (secured with real tokens, or in the open local mode) after a healthy journey. */
async function journey(mode: 'secured' | 'open'): Promise<World> {
  const outage = switchableStore(createEmbeddedStore({ timeoutMs: 5_000 }).store);
  let send: World['send'];
  if (mode === 'secured') {
    const secured = await securedApp({}, { store: outage.store });
    // Tokens come from the facade's own keys and clock; issuing them never touches the store.
    const tokens = { gp: await secured.token(GP, GP_SCOPES), sp: await secured.token(SP, SP_SCOPES) };
    send = (who, path, init = {}) => secured.as(tokens[who], path, init);
  } else {
    const open = await seededApp({}, { store: outage.store });
    send = (_who, path, init = {}) => call(open.app, path, init);
  }

  const sent = await expectStatus<Bundle>(
    send('gp', '/fhir', { body: exampleBody('01-gp-transaction-bundle.200') }),
    200,
    'the GP sends the referral',
  );
  const location = (type: string) =>
    sent.entry
      ?.map((e) => e.response?.location ?? '')
      .find((l) => l.startsWith(`${type}/`))
      ?.split('/')[1] as string;
  const srId = location('ServiceRequest');
  const patientId = location('Patient');
  const accepted = await expectStatus<{ task: { id: string } }>(
    send('sp', `/referrals/${srId}/$accept`, { body: journeyBody('03-accept.200'), headers: PLAIN }),
    200,
    'the service accepts',
  );
  const planned = await expectStatus<{ carePlan: { id: string }; careTeam: { id: string } }>(
    send('sp', `/referrals/${srId}/care-plan`, {
      body: journeyBody('05-care-plan-created.201'),
      headers: PLAIN,
    }),
    201,
    'the service writes the care plan',
  );
  const measured = await expectStatus<{ questionnaireResponse: { id: string } }>(
    send('sp', `/referrals/${srId}/outcomes`, {
      body: journeyBody('06-baseline-wellbeing.201'),
      headers: PLAIN,
    }),
    201,
    'the service records the baseline wellbeing',
  );
  const taskRead = await send('sp', `/fhir/Task/${accepted.task.id}`);
  const carePlanRead = await send('sp', `/fhir/CarePlan/${planned.carePlan.id}`);
  const careTeamRead = await send('sp', `/fhir/CareTeam/${planned.careTeam.id}`);
  const world: World = {
    send,
    outage,
    store: outage.store,
    patientId,
    srId,
    taskId: accepted.task.id,
    taskEtag: taskRead.headers.get('etag') as string,
    task: await expectStatus<Task>(Promise.resolve(taskRead), 200, 'the service reads the Task'),
    carePlanId: planned.carePlan.id,
    carePlanEtag: carePlanRead.headers.get('etag') as string,
    carePlan: await expectStatus<CarePlan>(Promise.resolve(carePlanRead), 200, 'the service reads the plan'),
    careTeamEtag: careTeamRead.headers.get('etag') as string,
    careTeam: await expectStatus<CareTeam>(Promise.resolve(careTeamRead), 200, 'the service reads the team'),
    questionnaireResponseId: measured.questionnaireResponse.id,
  };
  expect(world.task.status).toBe('accepted');
  expect(world.taskEtag).toMatch(/^W\/"/);
  expect(world.carePlanEtag).toMatch(/^W\/"/);
  return world;
}

/** One request to a route that reads the store. */
interface Case {
  name: string;
  who: Who;
  method?: 'POST' | 'PUT' | 'PATCH';
  path: (w: World) => string;
  body?: (w: World) => unknown;
  headers?: (w: World) => Record<string, string>;
}

const read = (name: string, path: (w: World) => string, who: Who = 'gp'): Case => ({ name, who, path });

const action = (name: string, body: Record<string, string>, who: Who = 'sp'): Case => ({
  name: `POST /referrals/{id}/$${name}${who === 'gp' ? ' (by the referrer)' : ''}`,
  who,
  method: 'POST',
  path: (w) => `/referrals/${w.srId}/$${name}`,
  body: () => body,
  headers: () => PLAIN,
});

/** The GP's example referral Bundle under another identifier: a new referral, not a retry. */
function newReferralBundle(): Bundle {
  const bundle = exampleBody('01-gp-transaction-bundle.200');
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource;
    if (resource?.resourceType === 'ServiceRequest') {
      resource.identifier = [{ system: REFERRAL_SYSTEM, value: 'RMP-2026-000199' }];
    }
  }
  return bundle;
}

const CASES: Case[] = [
  read('GET /fhir/Patient/{id}', (w) => `/fhir/Patient/${w.patientId}`),
  read('GET /fhir/ServiceRequest/{id}', (w) => `/fhir/ServiceRequest/${w.srId}`),
  read('GET /fhir/Task/{id}', (w) => `/fhir/Task/${w.taskId}`),
  read('GET /fhir/CarePlan/{id}', (w) => `/fhir/CarePlan/${w.carePlanId}`, 'sp'),
  read(
    'GET /fhir/QuestionnaireResponse/{id}',
    (w) => `/fhir/QuestionnaireResponse/${w.questionnaireResponseId}`,
  ),
  read(
    'GET /fhir/Task/{id}/_history/{vid}',
    (w) => `/fhir/Task/${w.taskId}/_history/${w.task.meta?.versionId}`,
  ),
  read(
    'GET /fhir/CarePlan/{id}/_history/{vid}',
    (w) => `/fhir/CarePlan/${w.carePlanId}/_history/${w.carePlan.meta?.versionId}`,
  ),
  read('GET /fhir/ServiceRequest/{id}/_history', (w) => `/fhir/ServiceRequest/${w.srId}/_history`),
  read('GET /fhir/Task/{id}/_history', (w) => `/fhir/Task/${w.taskId}/_history`),
  read('GET /fhir/CarePlan/{id}/_history', (w) => `/fhir/CarePlan/${w.carePlanId}/_history`, 'sp'),
  read(
    'GET /fhir/ServiceRequest?identifier=',
    () => `/fhir/ServiceRequest?identifier=${encodeURIComponent(`${REFERRAL_SYSTEM}|${REFERRAL_ID}`)}`,
  ),
  read(
    'GET /fhir/ServiceRequest?identifier=&_include=ServiceRequest:patient&_revinclude=Task:focus',
    () =>
      `/fhir/ServiceRequest?identifier=${encodeURIComponent(`${REFERRAL_SYSTEM}|${REFERRAL_ID}`)}` +
      '&_include=ServiceRequest:patient&_revinclude=Task:focus',
  ),
  read('GET /fhir/Task?focus=ServiceRequest/{id}', (w) => `/fhir/Task?focus=ServiceRequest/${w.srId}`),
  read(
    'GET /fhir/CarePlan?patient=Patient/{id}&_include=CarePlan:goal&_include=CarePlan:care-team',
    (w) => `/fhir/CarePlan?patient=Patient/${w.patientId}&_include=CarePlan:goal&_include=CarePlan:care-team`,
  ),
  read(
    'GET /fhir/Patient/{id}/$social-prescribing-summary',
    (w) => `/fhir/Patient/${w.patientId}/$social-prescribing-summary`,
  ),
  read('GET /fhir/CarePlan/{id}/$outcomes', (w) => `/fhir/CarePlan/${w.carePlanId}/$outcomes`),
  read('GET /care-team/meeting-list', () => '/care-team/meeting-list?since=2026-01-01T00:00:00Z', 'sp'),
  read(
    'GET /fhir/CarePlan/$meeting-list',
    () => '/fhir/CarePlan/$meeting-list?since=2026-01-01T00:00:00Z',
    'sp',
  ),
  {
    name: 'POST /referrals/{id}/care-team/consent (share)',
    who: 'sp',
    method: 'POST',
    path: (w) => `/referrals/${w.srId}/care-team/consent`,
    body: () => ({ decision: 'share', date: '2026-11-19T15:00:00Z' }),
    headers: () => PLAIN,
  },
  {
    name: 'POST /fhir/Consent (the care team’s)',
    who: 'sp',
    method: 'POST',
    path: () => '/fhir/Consent',
    body: (w) => ({
      resourceType: 'Consent',
      status: 'active',
      scope: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }],
      },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: `Patient/${w.patientId}` },
      dateTime: '2026-11-19T15:00:00Z',
      provision: {
        type: 'permit',
        actor: [{ role: { text: 'recipient' }, reference: { reference: `CareTeam/${w.careTeam.id}` } }],
      },
    }),
  },
  {
    name: 'PUT /fhir/CareTeam/{id} with If-Match',
    who: 'sp',
    method: 'PUT',
    path: (w) => `/fhir/CareTeam/${w.careTeam.id}`,
    body: (w) => ({ ...w.careTeam, name: 'Joseph’s team' }),
    headers: (w) => ({ 'if-match': w.careTeamEtag }),
  },

  action('accept', { businessStatus: 'contacted' }),
  action('start', { businessStatus: 'first-conversation-held' }),
  action('hold', { reason: 'In hospital for a fortnight' }),
  action('resume', {}),
  action('progress', { businessStatus: 'care-plan-agreed' }),
  action('complete', { businessStatus: 'connected-to-activity' }),
  action('decline', { reason: 'Would rather not be contacted' }),
  action('cancel', { reason: 'Moved out of the area' }),
  action('fail', { reason: 'Could not be reached', businessStatus: 'unable-to-contact' }),
  action('cancel', { reason: 'Referred in error' }, 'gp'),

  {
    name: 'PUT /fhir/Task/{id} with If-Match',
    who: 'sp',
    method: 'PUT',
    path: (w) => `/fhir/Task/${w.taskId}`,
    body: (w) => ({ ...w.task, status: 'in-progress' }),
    headers: (w) => ({ 'if-match': w.taskEtag }),
  },
  {
    name: 'PUT /fhir/Task/{id} with If-Match (the referrer cancelling)',
    who: 'gp',
    method: 'PUT',
    path: (w) => `/fhir/Task/${w.taskId}`,
    body: (w) => ({ ...w.task, status: 'cancelled', statusReason: { text: 'Referred in error' } }),
    headers: (w) => ({ 'if-match': w.taskEtag }),
  },
  {
    name: 'PATCH /fhir/Task/{id} with If-Match',
    who: 'sp',
    method: 'PATCH',
    path: (w) => `/fhir/Task/${w.taskId}`,
    body: () => [{ op: 'replace', path: '/status', value: 'in-progress' }],
    headers: (w) => ({ 'content-type': 'application/json-patch+json', 'if-match': w.taskEtag }),
  },
  {
    name: 'PUT /fhir/CarePlan/{id} with If-Match',
    who: 'sp',
    method: 'PUT',
    path: (w) => `/fhir/CarePlan/${w.carePlanId}`,
    body: (w) => ({ ...w.carePlan, title: 'Joseph’s plan, reviewed' }),
    headers: (w) => ({ 'if-match': w.carePlanEtag }),
  },
  {
    name: 'PATCH /fhir/CarePlan/{id} with If-Match',
    who: 'sp',
    method: 'PATCH',
    path: (w) => `/fhir/CarePlan/${w.carePlanId}`,
    body: () => [{ op: 'replace', path: '/activity/0/detail/status', value: 'completed' }],
    headers: (w) => ({ 'content-type': 'application/json-patch+json', 'if-match': w.carePlanEtag }),
  },
  {
    name: 'POST /fhir/CarePlan',
    who: 'sp',
    method: 'POST',
    path: () => '/fhir/CarePlan',
    body: (w): CarePlan => ({
      resourceType: 'CarePlan',
      status: 'active',
      intent: 'plan',
      subject: { reference: `Patient/${w.patientId}` },
      supportingInfo: [{ reference: `ServiceRequest/${w.srId}` }],
      activity: [
        {
          detail: {
            code: { coding: [{ system: CATEGORY, code: 'physical-activity' }] },
            status: 'not-started',
            description: 'Walking group',
          },
        },
      ],
    }),
  },
  {
    name: 'POST /fhir (a care plan transaction Bundle)',
    who: 'sp',
    method: 'POST',
    path: () => '/fhir',
    body: (w): Bundle => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:6a0b8e8e-0000-4000-8000-000000000001',
          resource: {
            resourceType: 'Goal',
            lifecycleStatus: 'active',
            description: { text: 'Walk daily' },
            subject: { reference: `Patient/${w.patientId}` },
          },
          request: { method: 'POST', url: 'Goal' },
        },
        {
          resource: {
            resourceType: 'CarePlan',
            status: 'active',
            intent: 'plan',
            subject: { reference: `Patient/${w.patientId}` },
            supportingInfo: [{ reference: `ServiceRequest/${w.srId}` }],
            goal: [{ reference: 'urn:uuid:6a0b8e8e-0000-4000-8000-000000000001' }],
            activity: [
              {
                detail: {
                  code: { coding: [{ system: CATEGORY, code: 'physical-activity' }] },
                  status: 'not-started',
                  description: 'Walking group',
                },
              },
            ],
          },
          request: { method: 'POST', url: 'CarePlan' },
        },
      ],
    }),
  },
  {
    name: 'POST /referrals/{id}/care-plan',
    who: 'sp',
    method: 'POST',
    path: (w) => `/referrals/${w.srId}/care-plan`,
    body: () => journeyBody('05-care-plan-created.201'),
    headers: () => PLAIN,
  },
  {
    name: 'POST /referrals/{id}/outcomes',
    who: 'sp',
    method: 'POST',
    path: (w) => `/referrals/${w.srId}/outcomes`,
    body: () => journeyBody('09-final-wellbeing.201'),
    headers: () => PLAIN,
  },
  {
    name: 'POST /fhir/QuestionnaireResponse',
    who: 'sp',
    method: 'POST',
    path: () => '/fhir/QuestionnaireResponse',
    body: (w): QuestionnaireResponse => ({
      resourceType: 'QuestionnaireResponse',
      questionnaire: ONS4,
      status: 'completed',
      authored: '2026-11-20T08:30:00Z',
      basedOn: [{ reference: `CarePlan/${w.carePlanId}` }],
      item: Object.entries({ 'life-satisfaction': 6, worthwhile: 6, happiness: 5, anxiety: 4 }).map(
        ([linkId, value]) => ({ linkId, answer: [{ valueInteger: value }] }),
      ),
    }),
  },
  {
    name: 'POST /fhir (a new referral Bundle)',
    who: 'gp',
    method: 'POST',
    path: () => '/fhir',
    body: () => newReferralBundle(),
  },
  {
    name: 'POST /referrals (plain JSON)',
    who: 'gp',
    method: 'POST',
    path: () => '/referrals',
    body: () => ({
      ...exampleBody<Record<string, unknown>>('04-plain-json-referral.201'),
      referralId: 'WEB-2026-0199',
    }),
    headers: () => PLAIN,
  },
  {
    name: 'POST /fhir/ServiceRequest',
    who: 'gp',
    method: 'POST',
    path: () => '/fhir/ServiceRequest',
    // Example 06, for the person the journey's referral is about, so that every look-up resolves.
    body: () =>
      JSON.parse(
        JSON.stringify(exampleBody<ServiceRequest>('06-single-service-request.201')).replaceAll(
          '9990000026',
          JOURNEY_NHS_NUMBER,
        ),
      ),
  },
  {
    name: 'POST /fhir/ServiceRequest with If-None-Exist',
    who: 'gp',
    method: 'POST',
    path: () => '/fhir/ServiceRequest',
    body: () =>
      JSON.parse(
        JSON.stringify(exampleBody<ServiceRequest>('06-single-service-request.201')).replaceAll(
          '9990000026',
          JOURNEY_NHS_NUMBER,
        ),
      ),
    headers: () => ({ 'if-none-exist': 'identifier=https://example.org/referrals|IFNE-1' }),
  },
  {
    name: 'POST /fhir/ServiceRequest/_search (a form)',
    who: 'gp',
    method: 'POST',
    path: () => '/fhir/ServiceRequest/_search',
    body: () => `identifier=${encodeURIComponent('https://example.org/referrals|x')}`,
    headers: () => ({ 'content-type': 'application/x-www-form-urlencoded' }),
  },
];

const OUTAGES: { failure: UpstreamFailure; status: number; code: string }[] = [
  { failure: 'timeout', status: 504, code: 'timeout' },
  { failure: 'unavailable', status: 503, code: 'transient' },
];

function send(world: World, c: Case): Promise<Response> {
  return world.send(c.who, c.path(world), {
    ...(c.method ? { method: c.method } : {}),
    ...(c.body ? { body: c.body(world) } : {}),
    ...(c.headers ? { headers: c.headers(world) } : {}),
  });
}

/** What is wrong with an answer given while Medplum was failing; empty when nothing is. */
async function outageAnswerProblems(
  response: Response,
  expected: { status: number; code: string },
  writes: string[],
): Promise<string[]> {
  const text = await response.text();
  let body: { resourceType?: string; issue?: { code?: string }[] } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // Reported below as not an OperationOutcome.
  }
  const problems: string[] = [];
  if (response.status !== expected.status) problems.push(`answered ${response.status} ${text}`);
  if (!/^[1-9]\d*$/.test(response.headers.get('retry-after') ?? '')) problems.push('no Retry-After');
  if (!/^application\/fhir\+json/.test(response.headers.get('content-type') ?? '')) {
    problems.push(`content type ${response.headers.get('content-type')}`);
  }
  if (body.resourceType !== 'OperationOutcome') problems.push('not an OperationOutcome');
  else if (!body.issue?.some((i) => i.code === expected.code)) problems.push(`no ${expected.code} issue`);
  if (writes.length) problems.push(`wrote after a failed read: ${writes.join('; ')}`);
  return problems;
}

describe.each(['secured', 'open'] as const)('the %s mode', (mode) => {
  describe.each(OUTAGES)('Medplum failing with $failure', (outage) => {
    let world: World;
    beforeAll(async () => {
      world = await journey(mode);
      world.outage.fail(outage.failure);
    });

    it.each(CASES.map((c) => [c.name, c] as const))(
      `%s answers ${outage.status} wherever Medplum stops answering`,
      async (_name, c) => {
        // Every read answered, every write failing: how many reads the route makes. It answers
        // from what it read, refuses from it (409, 422), or, having tried to write, fails as the
        // store did.
        world.outage.answer(Number.POSITIVE_INFINITY);
        const baseline = await send(world, c);
        const { reads, writes } = world.outage.seen();
        expect(reads, 'the route reads the store').toBeGreaterThan(0);
        const problems: string[] = [];
        if (writes > 0) {
          const found = await outageAnswerProblems(baseline, outage, []);
          if (found.length)
            problems.push(`with every read answered and the write failing: ${found.join(', ')}`);
        } else if (baseline.status >= 500) {
          problems.push(`with every read answered: ${baseline.status} ${await baseline.text()}`);
        }

        for (let answered = 0; answered < reads; answered++) {
          world.outage.answer(answered);
          const response = await send(world, c);
          const seen = world.outage.seen();
          const found = await outageAnswerProblems(response, outage, seen.writesAfterFailedRead);
          if (!seen.readFailed) found.push('made no read past the answered ones');
          if (found.length) problems.push(`after ${answered} of ${reads} reads: ${found.join(', ')}`);
        }
        expect(problems, problems.join('\n')).toEqual([]);
      },
    );

    it('once Medplum answers again, the referral is as the journey left it', async () => {
      world.outage.fail(undefined);
      const task = await world.send('sp', `/fhir/Task/${world.taskId}`);
      expect(task.status).toBe(200);
      expect(task.headers.get('etag')).toBe(world.taskEtag);
      const plan = await world.send('sp', `/fhir/CarePlan/${world.carePlanId}`);
      expect(plan.status).toBe(200);
      expect(plan.headers.get('etag')).toBe(world.carePlanEtag);
      const referrals = await world.store.search('ServiceRequest', { _count: '100' });
      expect(referrals.entry?.map((e) => e.resource?.id)).toEqual([world.srId]);
      const plans = await world.store.search('CarePlan', { _count: '100' });
      expect(plans.entry?.map((e) => e.resource?.id)).toEqual([world.carePlanId]);
    });
  });
});
