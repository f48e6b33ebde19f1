import type { Bundle, CapabilityStatement } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { expectOutcome } from '../support/app.ts';
import { postJson, referred } from '../support/journey.ts';

describe('$social-prescribing-summary', () => {
  it('returns the person’s whole picture in one Bundle, Patient first, for the referrer and the service', async () => {
    const r = await referred();
    await postJson(r, r.sp, `/referrals/${r.srId}/$accept`);
    const plan = await postJson(r, r.sp, `/referrals/${r.srId}/care-plan`, {
      whatMattersToMe: 'Company',
      author: { name: 'Sam' },
      goals: [{ description: 'Join a group' }],
      activities: [{ category: 'social-connection', description: 'Lunch club', status: 'scheduled' }],
      careTeam: [{ name: 'Sam', role: 'link-worker' }],
    });
    expect(plan.status).toBe(201);
    for (const token of [r.gp, r.sp]) {
      const response = await r.s.as(token, `/fhir/Patient/${r.patientId}/$social-prescribing-summary`);
      expect(response.status).toBe(200);
      const bundle = (await response.json()) as Bundle;
      expect(bundle.type).toBe('collection');
      const types = bundle.entry?.map((e) => e.resource?.resourceType);
      expect(types?.[0]).toBe('Patient');
      expect([...new Set(types)].sort()).toEqual([
        'CarePlan',
        'CareTeam',
        'Consent',
        'Goal',
        'Patient',
        'ServiceRequest',
        'Task',
      ]);
    }
  });

  it('leaves out what the token may not read, and hides a person the caller does not know', async () => {
    const r = await referred();
    const patientsOnly = await r.s.token('riverside-medical-gp-system', 'system/Patient.rs');
    const narrow = (await (
      await r.s.as(patientsOnly, `/fhir/Patient/${r.patientId}/$social-prescribing-summary`)
    ).json()) as Bundle;
    expect(narrow.entry?.map((e) => e.resource?.resourceType)).toEqual(['Patient']);
    const missing = await r.s.as(
      r.gp,
      '/fhir/Patient/00000000-0000-4000-8000-ffffffffffff/$social-prescribing-summary',
    );
    await expectOutcome(missing, 404, 'not-found');
  });

  it('is declared in the CapabilityStatement with its OperationDefinition', async () => {
    const r = await referred();
    const statement = (await (
      await r.s.app.request('http://facade.test/metadata')
    ).json()) as CapabilityStatement;
    const patient = statement.rest?.[0]?.resource?.find((x) => x.type === 'Patient');
    const operation = patient?.operation?.find((o) => o.name === 'social-prescribing-summary');
    expect(operation?.definition).toBe(
      'https://fhir.social-prescribing.example.org/OperationDefinition/social-prescribing-summary',
    );
    const definition = await r.s.as(r.gp, '/fhir/OperationDefinition/social-prescribing-summary');
    expect((await definition.json()).code).toBe('social-prescribing-summary');
  });
});
