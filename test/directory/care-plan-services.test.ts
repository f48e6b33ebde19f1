import type { Bundle, CarePlan, HealthcareService } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOutcome } from '../support/app.ts';
import { postJson, type Referred, referred } from '../support/journey.ts';
import { category, charity, createdId, DIRECTORY, DIRECTORY_SCOPES, service } from './support.ts';

let r: Referred;
let walks: string;
let closed: string;

const ACTIVITY =
  'https://fhir.social-prescribing.example.org/CodeSystem/social-prescribing-activity-category';

/** A plan of one activity with these performers. */
const plan = (
  performer: NonNullable<NonNullable<NonNullable<CarePlan['activity']>[number]['detail']>['performer']>,
): CarePlan => ({
  resourceType: 'CarePlan',
  status: 'active',
  intent: 'plan',
  subject: { reference: `Patient/${r.patientId}` },
  supportingInfo: [{ reference: `ServiceRequest/${r.srId}` }],
  activity: [
    {
      detail: {
        code: { coding: [{ system: ACTIVITY, code: 'physical-activity' }] },
        status: 'not-started',
        description: 'Health walks',
        performer,
      },
    },
  ],
});

beforeAll(async () => {
  r = await referred();
  expect((await r.s.as(r.sp, `/referrals/${r.srId}/$accept`, { method: 'POST' })).status).toBe(200);
  const admin = await r.s.token(DIRECTORY, DIRECTORY_SCOPES);
  const post = (type: string, body: unknown) => r.s.as(admin, `/fhir/${type}`, { method: 'POST', body });
  const org = await createdId(
    await post('Organization', charity('2001', 'Riverside Health Walks (example)')),
  );
  walks = await createdId(
    await post(
      'HealthcareService',
      service(org, 'Health walks from the library', { category: [category('physical-activity')] }),
    ),
  );
  closed = await createdId(
    await post('HealthcareService', service(org, 'Old walking group', { active: false })),
  );
});

describe('care plans connect the person to services in the directory', () => {
  it('refuses an activity naming a service that is not in the directory, or no longer active', async () => {
    const missing = await expectOutcome(
      await r.s.as(r.sp, '/fhir/CarePlan', {
        method: 'POST',
        body: plan([{ reference: 'HealthcareService/nope' }]),
      }),
      422,
      'not-found',
    );
    expect(JSON.stringify(missing)).toContain('CarePlan.activity[0].detail.performer[0]');
    const inactive = await expectOutcome(
      await r.s.as(r.sp, '/fhir/CarePlan', {
        method: 'POST',
        body: plan([{ reference: `HealthcareService/${closed}` }]),
      }),
      422,
      'business-rule',
    );
    expect(JSON.stringify(inactive)).toContain('marked inactive');
    await expectOutcome(
      await r.s.as(r.sp, '/fhir/CarePlan', {
        method: 'POST',
        body: plan([{ reference: 'https://elsewhere.example/fhir/HealthcareService/1' }]),
      }),
      422,
    );
  });

  it('accepts a service by reference with a free-text provider, and the summary includes the service', async () => {
    const created = await r.s.as(r.sp, '/fhir/CarePlan', {
      method: 'POST',
      body: plan([{ reference: `HealthcareService/${walks}` }, { display: 'Jo, the walk leader' }]),
    });
    expect(created.status).toBe(201);
    const stored = (await created.json()) as CarePlan;
    expect(stored.activity?.[0]?.detail?.performer?.[0]?.reference).toBe(`HealthcareService/${walks}`);

    const summary = (await (
      await r.s.as(r.gp, `/fhir/Patient/${r.patientId}/$social-prescribing-summary`)
    ).json()) as Bundle;
    const services = (summary.entry ?? []).filter((e) => e.resource?.resourceType === 'HealthcareService');
    expect(services.map((e) => (e.resource as HealthcareService).name)).toEqual([
      'Health walks from the library',
    ]);

    // A service withdrawn after the plan named it does not stop the plan being kept up to date.
    const admin = await r.s.token(DIRECTORY, DIRECTORY_SCOPES);
    const current = (await (
      await r.s.as(admin, `/fhir/HealthcareService/${walks}`)
    ).json()) as HealthcareService;
    const withdrawn = await r.s.as(admin, `/fhir/HealthcareService/${walks}`, {
      method: 'PUT',
      body: { ...current, active: false },
      headers: { 'if-match': `W/"${current.meta?.versionId}"` },
    });
    expect(withdrawn.status).toBe(200);
    const next = structuredClone(stored);
    (next.activity?.[0]?.detail as { status: string }).status = 'in-progress';
    const updated = await r.s.as(r.sp, `/fhir/CarePlan/${stored.id}`, {
      method: 'PUT',
      body: next,
      headers: { 'if-match': `W/"${stored.meta?.versionId}"` },
    });
    expect(updated.status).toBe(200);
  });
});

describe('the plain-JSON care plan names a service by id', () => {
  it('as serviceId, checked like a reference', async () => {
    const second = await referred();
    expect(
      (await second.s.as(second.sp, `/referrals/${second.srId}/$accept`, { method: 'POST' })).status,
    ).toBe(200);
    const admin = await second.s.token(DIRECTORY, DIRECTORY_SCOPES);
    const org = await createdId(
      await second.s.as(admin, '/fhir/Organization', { method: 'POST', body: charity('3001') }),
    );
    const id = await createdId(
      await second.s.as(admin, '/fhir/HealthcareService', {
        method: 'POST',
        body: service(org, 'Food bank volunteering'),
      }),
    );
    const body = (serviceId: string) => ({
      status: 'active',
      whatMattersToMe: 'Being useful again',
      author: { name: 'Sam Okoro (link worker)' },
      activities: [
        {
          category: 'volunteering',
          description: 'Food bank',
          serviceId,
          provider: { name: 'Riverside Food Bank' },
        },
      ],
    });
    await expectOutcome(
      await postJson(second, second.sp, `/referrals/${second.srId}/care-plan`, body('missing')),
      422,
      'not-found',
    );
    await expectOutcome(
      await postJson(second, second.sp, `/referrals/${second.srId}/care-plan`, body('../x')),
      400,
    );
    const created = await postJson(second, second.sp, `/referrals/${second.srId}/care-plan`, body(id));
    expect(created.status).toBe(201);
    const answer = (await created.json()) as { carePlan: { id: string } };
    const stored = (await (
      await second.s.as(second.sp, `/fhir/CarePlan/${answer.carePlan.id}`)
    ).json()) as CarePlan;
    expect(stored.activity?.[0]?.detail?.performer).toEqual([
      { reference: `HealthcareService/${id}` },
      { display: 'Riverside Food Bank' },
    ]);
  });
});
