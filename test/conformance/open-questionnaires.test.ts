import type { Questionnaire } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { call, expectOutcome } from '../support/app.ts';
import { securedApp } from '../support/secured.ts';

// The README's contract section: the served measures' Questionnaires are read without a token,
// like the profiles, value sets and code systems.

describe('the outcome measures’ Questionnaires', () => {
  it('are read without a token, as the contract is', async () => {
    const s = await securedApp();
    for (const id of ['ons4-personal-wellbeing', 'swemwbs']) {
      const response = await call(s.app, `/fhir/Questionnaire/${id}`);
      expect(response.status).toBe(200);
      const questionnaire = (await response.json()) as Questionnaire;
      expect(questionnaire).toMatchObject({ resourceType: 'Questionnaire', id });
      expect((await call(s.app, `/fhir/Questionnaire/${id}/`)).status).toBe(200);
    }
  });

  it('opens nothing else: another Questionnaire id, a search, history or a write still need a token', async () => {
    const s = await securedApp();
    for (const [method, path] of [
      ['GET', '/fhir/Questionnaire/some-stored-questionnaire'],
      ['GET', '/fhir/Questionnaire?name=swemwbs'],
      ['GET', '/fhir/Questionnaire/swemwbs/_history'],
      ['PUT', '/fhir/Questionnaire/swemwbs'],
      ['GET', '/fhir/QuestionnaireResponse/swemwbs'],
    ] as const) {
      const response = await call(s.app, path, {
        method,
        ...(method === 'PUT' ? { body: { resourceType: 'Questionnaire', status: 'active' } } : {}),
      });
      await expectOutcome(response, 401, 'login');
    }
  });
});
