import type { Bundle } from '@medplum/fhirtypes';
import { expect } from 'vitest';
import type { FhirStore } from '../../src/medplum/store.ts';
import { postJson, type Referred, referred } from './journey.ts';
import { SP } from './secured.ts';

// A referral accepted and its care plan written with a team naming a district nursing team
// (RDN01), for tests of sharing the plan with the person's care team.

export const NURSING = 'riverside-district-nursing';
export const DIRECTORY_ADMIN = 'riverside-directory-admin';
export const SP_SCOPES =
  'system/*.rs system/Task.rus system/CarePlan.cruds system/CareTeam.cruds system/QuestionnaireResponse.c system/Consent.cu';

export interface Team extends Referred {
  spFull: string;
  nurse: string;
  planId: string;
  teamId: string;
  goalIds: string[];
  taskId: string;
}

/** The example referral accepted, its plan written with a team naming RDN01, and RDN01 in the directory. */
export async function planWithTeam(store?: FhirStore): Promise<Team> {
  return planWithTeamOn(await referred(store ? { store } : {}));
}

/** The team's plan on a referral already sent. */
export async function planWithTeamOn(r: Referred): Promise<Team> {
  const spFull = await r.s.token(SP, SP_SCOPES);
  const nurse = await r.s.token(NURSING, 'system/*.rs');
  const admin = await r.s.token(DIRECTORY_ADMIN, 'system/Organization.crus');
  const registered = await r.s.as(admin, '/fhir/Organization', {
    body: {
      resourceType: 'Organization',
      identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RDN01' }],
      name: 'Riverside District Nursing (example)',
      active: true,
    },
  });
  expect(registered.status).toBe(201);
  expect((await r.s.as(r.sp, `/referrals/${r.srId}/$accept`, { method: 'POST' })).status).toBe(200);
  const created = await postJson(r, spFull, `/referrals/${r.srId}/care-plan`, {
    whatMattersToMe: 'Getting out of the flat most days',
    author: { name: 'Sam Okoro (link worker)' },
    goals: [{ description: 'Walk with others twice a week' }],
    careTeam: [
      { name: 'Sam Okoro', role: 'link-worker' },
      { name: 'Jo Patel', role: 'district-nurse', organisation: { odsCode: 'rdn01' } },
    ],
  });
  expect(created.status).toBe(201);
  const plan = (await created.json()) as {
    carePlan: { id: string };
    careTeam: { id: string };
    goals: { id: string }[];
  };
  const tasks = (await (await r.s.as(spFull, `/fhir/Task?focus=ServiceRequest/${r.srId}`)).json()) as Bundle;
  return {
    ...r,
    spFull,
    nurse,
    planId: plan.carePlan.id,
    teamId: plan.careTeam.id,
    goalIds: plan.goals.map((g) => g.id),
    taskId: tasks.entry?.[0]?.resource?.id as string,
  };
}
