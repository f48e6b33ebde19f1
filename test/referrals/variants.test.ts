import type { Bundle, ServiceRequest } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { call, expectOutcome } from '../support/app.ts';
import {
  all,
  counts,
  exampleBody,
  postBundle,
  seededApp,
  THIRD_PARTY_ABSENT,
  thirdParty,
} from '../support/referrals.ts';

const JSON_REFERRAL = '04-plain-json-referral.201';
const SINGLE = '06-single-service-request.201';

describe('POST /referrals (plain JSON)', () => {
  it('stores the same FHIR as a Bundle would, and answers a retry with the same ids', async () => {
    const { app, store } = await seededApp();
    const first = await call(app, '/referrals', {
      body: exampleBody(JSON_REFERRAL),
      headers: { 'content-type': 'application/json' },
    });
    expect(first.status).toBe(201);
    const created = await first.json();
    expect(first.headers.get('location')).toBe(
      `http://facade.test/fhir/ServiceRequest/${created.serviceRequest.id}`,
    );
    expect(created.task.location).toBe(`http://facade.test/fhir/Task/${created.task.id}`);
    const [sr] = await all<ServiceRequest>(store, 'ServiceRequest');
    expect(sr?.reasonCode?.[1]?.text).toBe('Recently retired and wants to volunteer');
    const again = await call(app, '/referrals', {
      body: exampleBody(JSON_REFERRAL),
      headers: { 'content-type': 'application/json' },
    });
    expect(again.status).toBe(200);
    expect((await again.json()).serviceRequest.id).toBe(created.serviceRequest.id);
  });

  it('takes ODS codes in any case and stores them in upper case, so a retry written otherwise is the same referral', async () => {
    const { app, store } = await seededApp();
    const send = (receiver: string, sender: string) => {
      const body = exampleBody<Record<string, unknown>>(JSON_REFERRAL);
      body.receivingServiceOdsCode = receiver;
      (body.referrer as { organisation: Record<string, string> }).organisation.odsCode = sender;
      return call(app, '/referrals', { body, headers: { 'content-type': 'application/json' } });
    };
    const first = await send(' spx01', 'rcc01');
    expect(first.status).toBe(201);
    const again = await send('SPX01', 'RCC01');
    expect(again.status).toBe(200);
    expect((await again.json()).serviceRequest.id).toBe((await first.json()).serviceRequest.id);
    const [sr] = await all<ServiceRequest>(store, 'ServiceRequest');
    expect(JSON.stringify(sr)).toContain('RCC01');
    expect(JSON.stringify(await all(store, 'Organization'))).not.toMatch(/"(rcc01|spx01)"/);
  });

  it('reports bad input with JSON paths, all at once, storing nothing', async () => {
    const { app, store } = await seededApp();
    const before = await counts(store);
    const body = exampleBody<Record<string, unknown>>(JSON_REFERRAL);
    const outcome = await expectOutcome(
      await call(app, '/referrals', {
        body: {
          ...body,
          patient: { familyName: 'Rahman', nhsNumber: '9990000019' },
          reasons: [],
          consent: { given: false, date: 'yesterday' },
        },
      }),
      400,
    );
    const expressions = outcome.issue.flatMap((i: { expression: string[] }) => i.expression);
    expect(expressions).toEqual(
      expect.arrayContaining(['patient.nhsNumber', 'reasons', 'consent.given', 'consent.date']),
    );
    expect(JSON.stringify(outcome)).not.toContain('9990000019');
    expect(await counts(store)).toEqual(before);
  });

  it('names the JSON field when the receiving service or reason code is unknown', async () => {
    const { app } = await seededApp();
    const body = {
      ...exampleBody<Record<string, unknown>>(JSON_REFERRAL),
      receivingServiceOdsCode: 'NOPE1',
      reasons: [{ snomedCode: '73211009' }],
    };
    const outcome = await expectOutcome(await call(app, '/referrals', { body }), 422);
    const expressions = outcome.issue.flatMap((i: { expression: string[] }) => i.expression);
    expect(expressions).toEqual(expect.arrayContaining(['reasons[0].snomedCode']));
    const unknownService = {
      ...exampleBody<Record<string, unknown>>(JSON_REFERRAL),
      receivingServiceOdsCode: 'NOPE1',
    };
    const outcome2 = await expectOutcome(
      await call(app, '/referrals', { body: unknownService }),
      422,
      'not-found',
    );
    expect(outcome2.issue[0].expression).toEqual(['receivingServiceOdsCode']);
  });
});

describe('POST /fhir/ServiceRequest (a single referral)', () => {
  it('resolves subject, requester and performer by identifier and stores the contained consent', async () => {
    const { app, store } = await seededApp();
    await postBundle(app, exampleBody('02-several-reasons-with-wellbeing-baseline.200'));
    const response = await call(app, '/fhir/ServiceRequest', { body: exampleBody(SINGLE) });
    expect(response.status).toBe(201);
    const sr = (await response.json()) as ServiceRequest;
    expect(response.headers.get('location')).toBe(
      `http://facade.test/fhir/ServiceRequest/${sr.id}/_history/${sr.meta?.versionId}`,
    );
    expect(response.headers.get('etag')).toBe(`W/"${sr.meta?.versionId}"`);
    expect(sr.subject.reference).toMatch(/^Patient\//);
    expect(sr.requester?.reference).toMatch(/^Organization\//);
    expect(sr.contained).toBeUndefined();
    const consents = await all(store, 'Consent', { patient: sr.subject.reference as string });
    expect(consents.length).toBeGreaterThanOrEqual(2);
    const minimal = await call(app, '/fhir/ServiceRequest', {
      body: exampleBody(SINGLE),
      headers: { prefer: 'return=minimal' },
    });
    expect(minimal.status).toBe(200);
    expect(await minimal.text()).toBe('');
  });

  it('refuses a subject that is not stored here (422 not-found at ServiceRequest.subject)', async () => {
    const { app } = await seededApp();
    const outcome = await expectOutcome(
      await call(app, '/fhir/ServiceRequest', { body: exampleBody(SINGLE) }),
      422,
      'not-found',
    );
    expect(outcome.issue.flatMap((i: { expression: string[] }) => i.expression)).toContain(
      'ServiceRequest.subject',
    );
  });
});

if (THIRD_PARTY_ABSENT) console.warn(`published third-party examples: ${THIRD_PARTY_ABSENT}`);

describe.skipIf(THIRD_PARTY_ABSENT)(
  `published third-party examples${THIRD_PARTY_ABSENT ? ` (${THIRD_PARTY_ABSENT})` : ''}`,
  () => {
    it('accepts the UK Core social prescribing referral once its receiving service is one known here', async () => {
      const { app, store } = await seededApp();
      const bundle = thirdParty<Bundle>('derived-ukcore-michaeljones-social-prescribing-referral.json');
      const outcome = await expectOutcome(await postBundle(app, bundle), 422, 'not-found');
      expect(outcome.issue.map((i: { expression: string[] }) => i.expression[0])).toEqual([
        'Bundle.entry[7].resource.performer[0]',
      ]);

      const lab = bundle.entry?.[4]?.resource as { identifier: { value: string }[] };
      lab.identifier[0] = { ...lab.identifier[0], value: 'SPX01' };
      const accepted = await postBundle(app, bundle);
      expect(accepted.status).toBe(200);
      expect((await counts(store)).ServiceRequest).toBe(1);
    });

    it('names the entry whose type a referral cannot carry (a Specimen)', async () => {
      const { app } = await seededApp();
      const outcome = await expectOutcome(
        await postBundle(app, thirdParty('nhse-ukcore-michaeljones-referral-transaction.json')),
        400,
        'not-supported',
      );
      expect(outcome.issue.flatMap((i: { expression?: string[] }) => i.expression ?? [])).toContain(
        'Bundle.entry[9].resource.resourceType',
      );
    });

    it('refuses a message Bundle (BaRS) as not a transaction', async () => {
      const { app } = await seededApp();
      await expectOutcome(
        await postBundle(app, thirdParty('bars-message-booking-request.json')),
        400,
        'not-supported',
      );
    });

    it('finds the bad NHS number and the missing social prescribing elements in published ServiceRequests', async () => {
      const { app } = await seededApp();
      const dpp = await expectOutcome(
        await call(app, '/fhir/ServiceRequest', {
          body: thirdParty('nhse-frameworks-servicerequest-dpp-bad-nhs-number.json'),
        }),
        422,
      );
      expect(dpp.issue.flatMap((i: { expression: string[] }) => i.expression)).toEqual(
        expect.arrayContaining(['ServiceRequest.subject.identifier.value', 'ServiceRequest.code']),
      );
      const pantry = await expectOutcome(
        await call(app, '/fhir/ServiceRequest', {
          body: thirdParty('sdohcc-servicerequest-food-pantry.json'),
        }),
        422,
      );
      expect(pantry.issue.flatMap((i: { expression: string[] }) => i.expression)).toEqual(
        expect.arrayContaining([
          'ServiceRequest.identifier',
          'ServiceRequest.code',
          'ServiceRequest.requester',
          'ServiceRequest.supportingInfo',
        ]),
      );
    });
  },
);
