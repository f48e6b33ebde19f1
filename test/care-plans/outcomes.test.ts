import type { Parameters, Questionnaire, QuestionnaireResponse } from '@medplum/fhirtypes';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectOutcome } from '../support/app.ts';
import { postJson, type Referred, referred } from '../support/journey.ts';
import { counts } from '../support/referrals.ts';

const ONS4 = 'https://fhir.social-prescribing.example.org/Questionnaire/ons4-personal-wellbeing';
const SWEMWBS = 'https://fhir.social-prescribing.example.org/Questionnaire/swemwbs';
const ons4 = (a: number, b: number, c: number, d: number) => ({
  'life-satisfaction': a,
  worthwhile: b,
  happiness: c,
  anxiety: d,
});
const swemwbs = (n: number) =>
  Object.fromEntries(
    [
      'optimistic',
      'useful',
      'relaxed',
      'dealing-with-problems',
      'thinking-clearly',
      'close-to-others',
      'own-mind',
    ].map((k) => [k, n]),
  );

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
});

const record = (body: unknown) => postJson(r, r.sp, `/referrals/${r.srId}/outcomes`, body);

describe('wellbeing outcomes', () => {
  it('serves the measures’ Questionnaires', async () => {
    for (const id of ['ons4-personal-wellbeing', 'swemwbs']) {
      const q = (await (await r.s.as(r.gp, `/fhir/Questionnaire/${id}`)).json()) as Questionnaire;
      expect(q.resourceType).toBe('Questionnaire');
      expect(q.item?.every((i) => i.type === 'integer' && i.required)).toBe(true);
    }
  });

  it('records a baseline and a later measure, and the care plan shows baseline, latest and change', async () => {
    expect(
      (
        await record({
          measure: 'ons4-personal-wellbeing',
          answers: ons4(3, 4, 2, 8),
          authored: '2026-11-21T10:00:00Z',
        })
      ).status,
    ).toBe(201);
    expect(
      (await record({ measure: 'swemwbs', answers: swemwbs(2), authored: '2026-11-21T10:05:00Z' })).status,
    ).toBe(201);
    // The end of support, recorded as FHIR.
    const later: QuestionnaireResponse = {
      resourceType: 'QuestionnaireResponse',
      questionnaire: ONS4,
      status: 'completed',
      authored: '2027-02-01T10:00:00Z',
      basedOn: [{ reference: `CarePlan/${planId}` }],
      item: Object.entries(ons4(7, 8, 7, 3)).map(([linkId, v]) => ({
        linkId,
        answer: [{ valueInteger: v }],
      })),
    };
    const posted = await r.s.as(r.sp, '/fhir/QuestionnaireResponse', { body: later });
    expect(posted.status).toBe(201);
    await record({ measure: 'swemwbs', answers: swemwbs(4), authored: '2027-02-01T10:05:00Z' });

    const outcomes = (await (await r.s.as(r.gp, `/fhir/CarePlan/${planId}/$outcomes`)).json()) as Parameters;
    const rows = (outcomes.parameter ?? []).map((p) =>
      Object.fromEntries(
        (p.part ?? []).map((part) => [
          part.name,
          part.valueInteger ?? part.valueString ?? part.valueCanonical,
        ]),
      ),
    );
    const row = (q: string, score: string) => rows.find((x) => x.questionnaire === q && x.score === score);
    expect(row(ONS4, 'life-satisfaction')).toMatchObject({ baseline: 3, latest: 7, change: 4, responses: 2 });
    expect(row(ONS4, 'anxiety')).toMatchObject({ baseline: 8, latest: 3, change: -5 });
    expect(row(SWEMWBS, 'total')).toMatchObject({ baseline: 14, latest: 28, change: 14 });
    const summary = await (
      await r.s.as(r.gp, `/fhir/Patient/${r.patientId}/$social-prescribing-summary`)
    ).json();
    expect(
      summary.entry.filter(
        (e: { resource: { resourceType: string } }) => e.resource.resourceType === 'QuestionnaireResponse',
      ),
    ).toHaveLength(4);
  });

  it('orders responses by when they were made, whatever the offset they were written with', async () => {
    // 09:30 in London summer time is 08:30 UTC: the baseline, although its text sorts after 09:00Z.
    await record({
      measure: 'ons4-personal-wellbeing',
      answers: ons4(3, 3, 3, 3),
      authored: '2026-06-21T09:30:00+01:00',
    });
    await record({
      measure: 'ons4-personal-wellbeing',
      answers: ons4(7, 7, 7, 7),
      authored: '2026-06-21T09:00:00Z',
    });
    const outcomes = (await (await r.s.as(r.gp, `/fhir/CarePlan/${planId}/$outcomes`)).json()) as Parameters;
    const first = outcomes.parameter?.[0]?.part ?? [];
    const value = (name: string) => first.find((p) => p.name === name)?.valueInteger;
    expect([value('baseline'), value('latest'), value('change')]).toEqual([3, 7, 4]);
  });

  it('refuses answers off the scale, missing items, unknown measures, and stores nothing', async () => {
    const before = await counts(r.s.store);
    await expectOutcome(await record({ measure: 'swemwbs', answers: swemwbs(6) }), 422, 'value');
    const { anxiety: _a, ...missing } = ons4(1, 1, 1, 1);
    await expectOutcome(
      await record({ measure: 'ons4-personal-wellbeing', answers: missing }),
      422,
      'required',
    );
    await expectOutcome(await record({ measure: 'phq9', answers: {} }), 400, 'value');
    const unknown: QuestionnaireResponse = {
      resourceType: 'QuestionnaireResponse',
      questionnaire: 'http://example.org/Questionnaire/other',
      status: 'completed',
      basedOn: [{ reference: `CarePlan/${planId}` }],
    };
    await expectOutcome(
      await r.s.as(r.sp, '/fhir/QuestionnaireResponse', { body: unknown }),
      422,
      'code-invalid',
    );
    expect(await counts(r.s.store)).toEqual(before);
  });

  it('answers 404 for the outcomes of a care plan that is not there', async () => {
    await expectOutcome(
      await r.s.as(r.gp, '/fhir/CarePlan/00000000-0000-4000-8000-ffffffffffff/$outcomes'),
      404,
      'not-found',
    );
  });

  it('is recorded by the service keeping the plan only', async () => {
    const gpWriter = await r.s.token('riverside-medical-gp-system', 'system/*.rs');
    await expectOutcome(
      await postJson(r, gpWriter, `/referrals/${r.srId}/outcomes`, {
        measure: 'swemwbs',
        answers: swemwbs(3),
      }),
      403,
      'forbidden',
    );
  });
});
