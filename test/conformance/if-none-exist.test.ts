import type {
  Bundle,
  CarePlan,
  OperationOutcome,
  QuestionnaireResponse,
  ServiceRequest,
} from '@medplum/fhirtypes';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectOutcome } from '../support/app.ts';
import { postJson, type Referred, referred } from '../support/journey.ts';
import { all, exampleBody } from '../support/referrals.ts';
import { GP } from '../support/secured.ts';

// Conditional create (https://hl7.org/fhir/R4/http.html#ccreate) on every single-resource create.

const GP_REFERRALS = 'https://fhir.riverside-medical.example/referrals';
const COMMUNITY_REFERRALS = 'https://riverside-community.example/referrals';
const PLANS = 'https://riverside-social-prescribing.example/care-plans';
const MEASURES = 'https://riverside-social-prescribing.example/measures';
const CATEGORY =
  'https://fhir.social-prescribing.example.org/CodeSystem/social-prescribing-activity-category';
const ONS4 = 'https://fhir.social-prescribing.example.org/Questionnaire/ons4-personal-wellbeing';

/** Example 06 (a single ServiceRequest) for the journey's person, under its own referral identifier. */
function singleReferral(id: string): ServiceRequest {
  const sr = JSON.parse(
    JSON.stringify(exampleBody<ServiceRequest>('06-single-service-request.201')).replaceAll(
      '9990000026',
      '9990000018',
    ),
  ) as ServiceRequest;
  sr.identifier = [{ system: GP_REFERRALS, value: id }];
  return sr;
}

/** The GP's example referral re-sent by the community centre (RCC01) as its own. */
function communityReferral(): Bundle {
  const bundle = exampleBody('01-gp-transaction-bundle.200');
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource;
    if (resource?.resourceType === 'Patient') {
      entry.resource = { resourceType: 'Patient', identifier: resource.identifier ?? [] };
    }
    if (resource?.resourceType === 'Organization' && resource.identifier?.[0]?.value === 'B99901') {
      resource.identifier = [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RCC01' }];
      resource.name = 'Riverside Community Centre (example)';
    }
    if (resource?.resourceType === 'ServiceRequest') {
      resource.identifier = [{ system: COMMUNITY_REFERRALS, value: 'RCC-2026-0001' }];
    }
  }
  return bundle;
}

const criteria = (text: string) => ({ 'if-none-exist': text });

let r: Referred;
beforeEach(async () => {
  r = await referred();
});

const referrals = async () => (await all<ServiceRequest>(r.s.store, 'ServiceRequest')).length;
const postReferral = (body: unknown, headers: Record<string, string> = {}, token = r.gp) =>
  r.s.as(token, '/fhir/ServiceRequest', { body, headers });

describe('POST /fhir/ServiceRequest with If-None-Exist', () => {
  it('one match: 200 with the stored referral, and nothing written', async () => {
    const before = await referrals();
    const response = await postReferral(
      singleReferral('RMP-IFN-1'),
      criteria(`identifier=${GP_REFERRALS}|RMP-2026-000101`),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('location')).toMatch(new RegExp(`/fhir/ServiceRequest/${r.srId}/_history/`));
    expect(response.headers.get('etag')).toMatch(/^W\/"/);
    expect(((await response.json()) as ServiceRequest).id).toBe(r.srId);
    expect(await referrals()).toBe(before);
  });

  it('no match: the referral is created (201); a second match among the caller’s own is 412', async () => {
    const created = await postReferral(
      singleReferral('RMP-IFN-2'),
      criteria(`identifier=${GP_REFERRALS}|RMP-IFN-2`),
    );
    expect(created.status).toBe(201);
    const before = await referrals();
    await expectOutcome(
      await postReferral(singleReferral('RMP-IFN-3'), criteria(`subject=Patient/${r.patientId}`)),
      412,
      'multiple-matches',
    );
    expect(await referrals()).toBe(before);
  });

  it('honours Prefer on a match: no body, or an OperationOutcome saying nothing was stored', async () => {
    const match = criteria(`identifier=${GP_REFERRALS}|RMP-2026-000101`);
    const minimal = await postReferral(singleReferral('RMP-IFN-4'), { ...match, prefer: 'return=minimal' });
    expect(minimal.status).toBe(200);
    expect(await minimal.text()).toBe('');
    expect(minimal.headers.get('location')).toContain(`/ServiceRequest/${r.srId}/`);
    const outcome = await postReferral(singleReferral('RMP-IFN-4'), {
      ...match,
      prefer: 'return=OperationOutcome',
    });
    expect(outcome.status).toBe(200);
    const body = (await outcome.json()) as OperationOutcome;
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue?.[0]?.diagnostics).toMatch(new RegExp(`matched ServiceRequest/${r.srId}; nothing`));
  });

  it('criteria that are not a valid search of ServiceRequest: 400, and nothing written', async () => {
    const before = await referrals();
    for (const text of [
      'foo=bar',
      'authored=yesterday',
      '_lastUpdated=soon',
      'subject.name=Okafor',
      'subject:Patient.name=Okafor',
      '_has:Task:focus:status=requested',
      '_count=1',
      '_security=x|y',
      'identifier:fuzzy=x',
      'status:missing=perhaps',
      'identifier=',
      '',
      '?',
      'Patient?identifier=x|y',
    ]) {
      const response = await postReferral(singleReferral('RMP-IFN-5'), criteria(text));
      const outcome = await expectOutcome(response, 400);
      expect(outcome.issue[0].expression).toEqual(['If-None-Exist']);
    }
    expect(await referrals()).toBe(before);
  });

  it('accepts criteria written as Type?query, with modifiers its parameters take', async () => {
    const response = await postReferral(
      singleReferral('RMP-IFN-6'),
      criteria(`ServiceRequest?identifier=${GP_REFERRALS}|RMP-2026-000101&status:not=revoked`),
    );
    expect(response.status).toBe(200);
    expect(((await response.json()) as ServiceRequest).id).toBe(r.srId);
  });

  it('needs search as well as create on the type: the criteria are a search', async () => {
    const createOnly = await r.s.token(GP, 'system/ServiceRequest.c system/Patient.rs');
    const before = await referrals();
    await expectOutcome(
      await postReferral(
        singleReferral('RMP-IFN-7'),
        criteria(`identifier=${GP_REFERRALS}|RMP-IFN-7`),
        createOnly,
      ),
      403,
      'forbidden',
    );
    expect(await referrals()).toBe(before);
    // Without criteria, create alone is enough.
    expect((await postReferral(singleReferral('RMP-IFN-7'), {}, createOnly)).status).toBe(201);
  });

  it('never matches another organisation’s referral: the create goes ahead as if nothing matched', async () => {
    // Another organisation (the community centre) refers the same person.
    const community = await r.s.token('riverside-community-connector', 'system/ServiceRequest.c');
    expect((await r.s.as(community, '/fhir', { body: communityReferral() })).status).toBe(200);
    const theirs = (await all<ServiceRequest>(r.s.store, 'ServiceRequest')).find(
      (sr) => sr.identifier?.[0]?.system === COMMUNITY_REFERRALS,
    ) as ServiceRequest;

    const before = await referrals();
    const response = await postReferral(
      singleReferral('RMP-IFN-8'),
      criteria(`identifier=${COMMUNITY_REFERRALS}|RCC-2026-0001`),
    );
    expect(response.status).toBe(201);
    const text = await response.text();
    expect(text).not.toContain(theirs.id as string);
    expect(text).not.toContain('RCC-2026-0001');
    expect((JSON.parse(text) as ServiceRequest).identifier?.[0]?.value).toBe('RMP-IFN-8');
    expect(await referrals()).toBe(before + 1);

    // Theirs is not counted either: the GP's one referral for the person is the one match.
    const one = await postReferral(
      singleReferral('RMP-IFN-9'),
      criteria(`subject=Patient/${r.patientId}&identifier=${GP_REFERRALS}|RMP-2026-000101`),
    );
    expect(one.status).toBe(200);
  });
});

/** A care plan for the journey's referral, in FHIR, under its own identifier. */
function carePlan(id: string): CarePlan {
  return {
    resourceType: 'CarePlan',
    identifier: [{ system: PLANS, value: id }],
    status: 'active',
    intent: 'plan',
    subject: { reference: `Patient/${r.patientId}` },
    supportingInfo: [{ reference: `ServiceRequest/${r.srId}` }],
    activity: [
      {
        detail: {
          code: { coding: [{ system: CATEGORY, code: 'physical-activity' }] },
          status: 'not-started',
          description: 'Walking group',
        },
      },
    ],
  };
}

describe('POST /fhir/CarePlan with If-None-Exist', () => {
  beforeEach(async () => {
    expect((await postJson(r, r.sp, `/referrals/${r.srId}/$accept`)).status).toBe(200);
  });

  it('creates once; the same create again answers 200 with the plan rather than a conflict', async () => {
    const first = await r.s.as(r.sp, '/fhir/CarePlan', {
      body: carePlan('PLAN-1'),
      headers: criteria(`identifier=${PLANS}|PLAN-1`),
    });
    expect(first.status).toBe(201);
    const plan = (await first.json()) as CarePlan;
    const again = await r.s.as(r.sp, '/fhir/CarePlan', {
      body: carePlan('PLAN-1'),
      headers: criteria(`identifier=${PLANS}|PLAN-1`),
    });
    expect(again.status).toBe(200);
    expect(((await again.json()) as CarePlan).id).toBe(plan.id);
    expect(await all(r.s.store, 'CarePlan')).toHaveLength(1);
    const byPerson = await r.s.as(r.sp, '/fhir/CarePlan', {
      body: carePlan('PLAN-2'),
      headers: criteria(`patient=Patient/${r.patientId}`),
    });
    expect(byPerson.status).toBe(200);
  });

  it('refuses criteria CarePlan does not define (400), rather than creating', async () => {
    await expectOutcome(
      await r.s.as(r.sp, '/fhir/CarePlan', { body: carePlan('PLAN-3'), headers: criteria('foo=bar') }),
      400,
      'not-supported',
    );
    await expectOutcome(
      await r.s.as(r.sp, '/fhir/CarePlan', { body: carePlan('PLAN-3'), headers: criteria('date=tomorrow') }),
      400,
      'value',
    );
    expect(await all(r.s.store, 'CarePlan')).toHaveLength(0);
  });
});

describe('POST /fhir/QuestionnaireResponse with If-None-Exist', () => {
  let planId: string;
  beforeEach(async () => {
    await postJson(r, r.sp, `/referrals/${r.srId}/$accept`);
    const plan = await postJson(r, r.sp, `/referrals/${r.srId}/care-plan`, {
      whatMattersToMe: 'Company',
      author: { name: 'Sam' },
      activities: [{ category: 'social-connection', description: 'Lunch club', status: 'scheduled' }],
    });
    planId = (await plan.json()).carePlan.id;
  });

  const measure = (id: string): QuestionnaireResponse => ({
    resourceType: 'QuestionnaireResponse',
    identifier: { system: MEASURES, value: id },
    questionnaire: ONS4,
    status: 'completed',
    authored: '2026-11-20T08:30:00Z',
    basedOn: [{ reference: `CarePlan/${planId}` }],
    item: Object.entries({ 'life-satisfaction': 6, worthwhile: 6, happiness: 5, anxiety: 4 }).map(
      ([linkId, value]) => ({ linkId, answer: [{ valueInteger: value }] }),
    ),
  });
  const record = (body: QuestionnaireResponse, text: string) =>
    r.s.as(r.sp, '/fhir/QuestionnaireResponse', { body, headers: criteria(text) });
  const responses = async () => (await all(r.s.store, 'QuestionnaireResponse')).length;

  it('records a measure once however often it is sent; several matches are 412; bad criteria 400', async () => {
    const first = await record(measure('M-1'), `identifier=${MEASURES}|M-1`);
    expect(first.status).toBe(201);
    const id = ((await first.json()) as QuestionnaireResponse).id;
    const again = await record(measure('M-1'), `identifier=${MEASURES}|M-1`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as QuestionnaireResponse).id).toBe(id);
    expect(await responses()).toBe(1);

    expect((await record(measure('M-2'), `identifier=${MEASURES}|M-2`)).status).toBe(201);
    await expectOutcome(await record(measure('M-3'), `based-on=CarePlan/${planId}`), 412, 'multiple-matches');
    await expectOutcome(await record(measure('M-3'), 'authored=last-week'), 400, 'value');
    await expectOutcome(await record(measure('M-3'), 'questionnaire.title=x'), 400, 'not-supported');
    expect(await responses()).toBe(2);
  });
});
