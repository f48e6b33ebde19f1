import type { Bundle, CapabilityStatement, Organization } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { organisation } from '../directory/support.ts';
import { call, createTestApp, expectOutcome } from '../support/app.ts';
import { postJson, referred } from '../support/journey.ts';
import { seededApp } from '../support/referrals.ts';

// Every route's query string is checked: a parameter a route does not take is refused, naming it,
// rather than answered as if it had been applied. Each case is sent with and without the stray
// parameter, so that what is refused is the parameter and not the request.

const SUBSETTED = (r: { meta?: { tag?: { code?: string }[] } }) =>
  Boolean(r.meta?.tag?.some((t) => t.code === 'SUBSETTED'));

/** A 400 naming `parameter` as where the problem is. */
async function refusesParameter(response: Response, parameter: string, code = 'invalid') {
  const outcome = await expectOutcome(response, 400, code);
  expect(outcome.issue[0].expression).toEqual([parameter]);
}

describe('operations', () => {
  it('$social-prescribing-summary and $outcomes take no parameters but those that shape the answer', async () => {
    const r = await referred();
    await postJson(r, r.sp, `/referrals/${r.srId}/$accept`);
    const plan = await postJson(r, r.sp, `/referrals/${r.srId}/care-plan`, {
      whatMattersToMe: 'Company',
      author: { name: 'Sam' },
      activities: [{ category: 'social-connection', description: 'Lunch club', status: 'scheduled' }],
    });
    const planId = (await plan.json()).carePlan.id as string;
    const summary = `/fhir/Patient/${r.patientId}/$social-prescribing-summary`;
    const outcomes = `/fhir/CarePlan/${planId}/$outcomes`;
    for (const path of [summary, outcomes]) {
      expect((await r.s.as(r.sp, path)).status, path).toBe(200);
      expect((await r.s.as(r.sp, `${path}?_pretty=true&_format=json`)).status, path).toBe(200);
      await refusesParameter(await r.s.as(r.sp, `${path}?bogus=1`), 'bogus');
      // Neither subsets its answer, so neither takes the parameters that would.
      await refusesParameter(await r.s.as(r.sp, `${path}?_elements=entry`), '_elements');
      const none = { resourceType: 'Parameters' };
      expect((await r.s.as(r.sp, path, { method: 'POST', body: none })).status, path).toBe(200);
      await refusesParameter(await r.s.as(r.sp, `${path}?bogus=1`, { method: 'POST', body: none }), 'bogus');
    }
  });

  it('$validate-code and $import-open-referral take only their own inputs', async () => {
    const { app } = createTestApp();
    const url = encodeURIComponent(
      'https://fhir.social-prescribing.example.org/ValueSet/referral-task-status',
    );
    const validate = `/fhir/ValueSet/$validate-code?url=${url}&code=requested`;
    expect((await call(app, validate)).status).toBe(200);
    await refusesParameter(await call(app, `${validate}&bogus=1`), 'bogus');
    const feed = [{ id: 'q-service', name: 'Q service', organization: { id: 'q-org', name: 'Q org' } }];
    const imported = '/fhir/HealthcareService/$import-open-referral';
    await refusesParameter(await call(app, `${imported}?bogus=1`, { body: feed }), 'bogus');
    expect((await call(app, imported, { body: feed })).status).toBe(200);
  });
});

describe('writes', () => {
  it('a create, an update and a patch take only _format and _pretty, and store nothing when refused', async () => {
    const { app } = await seededApp();
    const organization = organisation('QS001', 'Query Strings Trust');
    const named = async () =>
      ((await (await call(app, '/fhir/Organization?name=Query%20Strings')).json()) as Bundle).total;
    await refusesParameter(await call(app, '/fhir/Organization?bogus=1', { body: organization }), 'bogus');
    expect(await named()).toBe(0);
    const created = await call(app, '/fhir/Organization?_pretty=true', { body: organization });
    expect(created.status).toBe(201);
    const stored = (await created.json()) as Organization;
    const etag = created.headers.get('etag') as string;
    const path = `/fhir/Organization/${stored.id}`;
    await refusesParameter(
      await call(app, `${path}?bogus=1`, {
        method: 'PUT',
        body: { ...stored, name: 'Renamed' },
        headers: { 'if-match': etag },
      }),
      'bogus',
    );
    await refusesParameter(
      await call(app, `${path}?_summary=true`, {
        method: 'PATCH',
        body: [{ op: 'replace', path: '/name', value: 'Renamed' }],
        headers: { 'if-match': etag, 'content-type': 'application/json-patch+json' },
      }),
      '_summary',
    );
    expect(((await (await call(app, path)).json()) as Organization).name).toBe('Query Strings Trust');
    // A method the path does not serve is that, whatever its query.
    expect((await call(app, `${path}?bogus=1`, { method: 'DELETE' })).status).toBe(405);
    expect((await call(app, '/fhir/metadata?bogus=1', { method: 'POST', body: organization })).status).toBe(
      405,
    );
    await refusesParameter(
      await call(app, '/fhir?bogus=1', { body: { resourceType: 'Bundle', type: 'transaction' } }),
      'bogus',
    );
  });
});

describe('/metadata', () => {
  it('takes mode (full only), _format, _pretty, _summary and _elements, and nothing else', async () => {
    const { app } = createTestApp();
    for (const path of ['/metadata', '/fhir/metadata']) {
      expect((await call(app, `${path}?mode=full&_format=json&_pretty=true`)).status).toBe(200);
      await refusesParameter(await call(app, `${path}?bogus=1`), 'bogus');
      await refusesParameter(await call(app, `${path}?mode=terminology`), 'mode', 'not-supported');
      await refusesParameter(await call(app, `${path}?mode=bogus`), 'mode');
      // Given twice, even the same value twice, it is not one mode.
      await refusesParameter(await call(app, `${path}?mode=full&mode=terminology`), 'mode');
      await refusesParameter(await call(app, `${path}?mode=full&mode=full`), 'mode');
    }
    const summary = (await (await call(app, '/metadata?_summary=true')).json()) as CapabilityStatement;
    expect(SUBSETTED(summary)).toBe(true);
    expect(summary.fhirVersion).toBe('4.0.1');
    const elements = (await (
      await call(app, '/metadata?_elements=fhirVersion')
    ).json()) as CapabilityStatement;
    expect(Object.keys(elements).sort()).toEqual(
      ['date', 'fhirVersion', 'format', 'kind', 'meta', 'resourceType', 'status'].sort(),
    );
    await refusesParameter(await call(app, '/metadata?_elements=bogus'), '_elements');
  });
});

describe('reads of the published contract', () => {
  it('honour _summary and _elements, and refuse anything else', async () => {
    const { app } = createTestApp();
    const valueSet = '/fhir/ValueSet/referral-task-status';
    const whole = await (await call(app, valueSet)).json();
    expect(whole.compose).toBeDefined();
    const summary = await (await call(app, `${valueSet}?_summary=true`)).json();
    expect(summary.compose).toBeUndefined();
    expect(summary.url).toBe(whole.url);
    expect(SUBSETTED(summary)).toBe(true);
    const questionnaire = await (await call(app, '/fhir/Questionnaire/swemwbs?_elements=title')).json();
    // `status` is mandatory, so it stays.
    expect(Object.keys(questionnaire).sort()).toEqual(['id', 'meta', 'resourceType', 'status', 'title']);
    expect(SUBSETTED(questionnaire)).toBe(true);
    const codeSystem = await (
      await call(app, '/fhir/CodeSystem/referral-business-status?_elements=url,concept')
    ).json();
    expect(Object.keys(codeSystem).sort()).toEqual(
      ['concept', 'content', 'id', 'meta', 'resourceType', 'status', 'url'].sort(),
    );
    const profile = await (
      await call(app, '/fhir/StructureDefinition/social-prescribing-referral?_summary=true')
    ).json();
    expect(profile.snapshot).toBeUndefined();
    expect(profile.url).toMatch(/social-prescribing-referral$/);
    const definition = await (
      await call(app, '/fhir/OperationDefinition/ValueSet-expand?_elements=code')
    ).json();
    expect(definition.code).toBe('expand');
    expect(definition.parameter).toBeUndefined();
    for (const path of [
      valueSet,
      '/fhir/CodeSystem/referral-business-status',
      '/fhir/Questionnaire/swemwbs',
      '/fhir/StructureDefinition/social-prescribing-referral',
      '/fhir/OperationDefinition/ValueSet-expand',
      '/fhir/OperationDefinition/social-prescribing-summary',
    ]) {
      expect((await call(app, `${path}?_format=json`)).status, path).toBe(200);
      await refusesParameter(await call(app, `${path}?bogus=1`), 'bogus');
      await refusesParameter(await call(app, `${path}?_elements=bogus`), '_elements');
    }
  });
});

describe('the plain-JSON routes', () => {
  it('take their input in the body only: a parameter on /referrals or its operations is refused, changing nothing', async () => {
    const r = await referred();
    const task = async () =>
      ((await (await r.s.as(r.sp, `/fhir/Task?focus=ServiceRequest/${r.srId}`)).json()) as Bundle).entry?.[0]
        ?.resource as { status?: string };
    await refusesParameter(await postJson(r, r.sp, `/referrals/${r.srId}/$accept?force=true`), 'force');
    expect((await task()).status).toBe('requested');
    expect((await postJson(r, r.sp, `/referrals/${r.srId}/$accept`)).status).toBe(200);
    expect((await task()).status).toBe('accepted');
    const json = {
      referralId: 'QS-1',
      patient: { nhsNumber: '9990000034', givenName: 'Amir', familyName: 'Rahman', birthDate: '1961-07-14' },
      referrer: { name: 'Sam Patel', organisation: { name: 'Sender' } },
      receivingServiceOdsCode: 'SPX01',
      reasons: [{ snomedCode: '422650009' }],
      consent: { given: true, date: '2026-11-19T14:00:00Z' },
      authoredOn: '2026-11-19T14:05:00Z',
    };
    await refusesParameter(await postJson(r, r.gp, '/referrals?dryRun=true', json), 'dryRun');
    expect((await postJson(r, r.gp, '/referrals', json)).status).toBe(201);
  });
});
