import { describe, expect, it } from 'vitest';
import { securedApp } from '../support/secured.ts';

describe('the contract is read without a token, and nothing beside it', () => {
  it('serves the measures by their exact ids, searches the contract by url, and keeps the rest behind a token', async () => {
    const s = await securedApp();
    const get = (path: string) => s.app.request(`http://facade.test${path}`);
    expect((await get('/fhir/Questionnaire/swemwbs')).status).toBe(200);
    expect((await get('/fhir/ValueSet?url=https://example.org/none')).status).toBe(200);
    expect((await get('/fhir/CodeSystem?url=https://example.org/none')).status).toBe(200);
    // An id that merely contains a measure's is not that measure.
    expect((await get('/fhir/Questionnaire/x-swemwbs')).status).toBe(401);
    expect((await get('/fhir/Questionnaire/ons4-personal-wellbeing-x')).status).toBe(401);
    expect((await get('/fhir/Patient?name=x')).status).toBe(401);
  });
});

describe('operations by POST', () => {
  it('$expand takes its url in a Parameters body, and refuses another body', async () => {
    const s = await securedApp();
    const url = 'https://fhir.social-prescribing.example.org/ValueSet/social-prescribing-referral-reasons';
    const post = (body: unknown) =>
      s.app.request('http://facade.test/fhir/ValueSet/$expand', {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(body),
      });
    const expanded = await post({ resourceType: 'Parameters', parameter: [{ name: 'url', valueUri: url }] });
    expect(expanded.status).toBe(200);
    expect(((await expanded.json()) as { expansion: { total: number } }).expansion.total).toBeGreaterThan(0);
    expect((await post({ resourceType: 'Patient' })).status).toBe(400);
  });
});
