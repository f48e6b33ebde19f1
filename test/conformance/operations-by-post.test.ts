import type { Bundle, Parameters } from '@medplum/fhirtypes';
import { beforeEach, describe, expect, it } from 'vitest';
import { call, expectOutcome } from '../support/app.ts';
import { postJson, type Referred, referred } from '../support/journey.ts';

// Operations that do not change state may be invoked by GET or by POST with a Parameters body
// (https://hl7.org/fhir/R4/operations.html#request); both here define no input parameters.

let r: Referred;
let planId: string;
beforeEach(async () => {
  r = await referred();
  await postJson(r, r.sp, `/referrals/${r.srId}/$accept`);
  const plan = await postJson(r, r.sp, `/referrals/${r.srId}/care-plan`, {
    whatMattersToMe: 'Company',
    author: { name: 'Sam' },
    activities: [{ category: 'social-connection', description: 'Lunch club', status: 'scheduled' }],
  });
  planId = (await plan.json()).carePlan.id;
  expect(
    (
      await postJson(r, r.sp, `/referrals/${r.srId}/outcomes`, {
        measure: 'swemwbs',
        answers: Object.fromEntries(
          [
            'optimistic',
            'useful',
            'relaxed',
            'dealing-with-problems',
            'thinking-clearly',
            'close-to-others',
            'own-mind',
          ].map((k) => [k, 3]),
        ),
        authored: '2026-11-21T10:00:00Z',
      })
    ).status,
  ).toBe(201);
});

const EMPTY_PARAMETERS: Parameters = { resourceType: 'Parameters' };

describe('operations invoked by POST', () => {
  it('$social-prescribing-summary: no body or an empty Parameters answers as GET does', async () => {
    const path = `/fhir/Patient/${r.patientId}/$social-prescribing-summary`;
    const byGet = (await (await r.s.as(r.gp, path)).json()) as Bundle;
    for (const init of [
      { method: 'POST' },
      { body: EMPTY_PARAMETERS },
      { body: { ...EMPTY_PARAMETERS, parameter: [] } },
    ]) {
      const response = await r.s.as(r.gp, path, init);
      expect(response.status).toBe(200);
      const bundle = (await response.json()) as Bundle;
      expect(bundle.type).toBe('collection');
      expect(bundle.entry?.map((e) => e.resource?.id)).toEqual(byGet.entry?.map((e) => e.resource?.id));
    }
  });

  it('$outcomes: no body or an empty Parameters answers as GET does', async () => {
    const path = `/fhir/CarePlan/${planId}/$outcomes`;
    const byGet = (await (await r.s.as(r.gp, path)).json()) as Parameters;
    expect(byGet.parameter?.length).toBeGreaterThan(0);
    for (const init of [{ method: 'POST' }, { body: EMPTY_PARAMETERS }]) {
      const response = await r.s.as(r.gp, path, init);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(byGet);
    }
  });

  it('refuses a body that is not Parameters, or parameters the operation does not define (400)', async () => {
    for (const path of [
      `/fhir/Patient/${r.patientId}/$social-prescribing-summary`,
      `/fhir/CarePlan/${planId}/$outcomes`,
    ]) {
      await expectOutcome(await r.s.as(r.gp, path, { body: { resourceType: 'Patient' } }), 400, 'structure');
      await expectOutcome(await r.s.as(r.gp, path, { body: [] }), 400);
      await expectOutcome(
        await r.s.as(r.gp, path, {
          body: { resourceType: 'Parameters', parameter: [{ name: 'since', valueDate: '2026-01-01' }] },
        }),
        400,
        'not-supported',
      );
    }
  });

  it('keeps the same guards as GET: a token, and only what the caller may see', async () => {
    const path = `/fhir/CarePlan/${planId}/$outcomes`;
    await expectOutcome(await call(r.s.app, path, { method: 'POST' }), 401, 'login');
    const auditor = await r.s.token('information-governance-audit', 'system/AuditEvent.rs');
    await expectOutcome(await r.s.as(auditor, path, { method: 'POST' }), 403, 'forbidden');
    await expectOutcome(
      await r.s.as(r.gp, `/fhir/Patient/does-not-exist/$social-prescribing-summary`, { method: 'POST' }),
      404,
    );
  });
});
