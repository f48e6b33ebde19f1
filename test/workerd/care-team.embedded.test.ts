import { describe, expect, it } from 'vitest';
import { as, GP, postJson, SP, sendReferral } from './referrals.ts';
import { tokenFor } from './token.ts';

// The Worker shares a care plan with the person's care team on their consent, against the
// embedded Medplum, through tokens it issued: the district nursing team (RDN01) reads the plan
// while the consent is in force, lists the person for its meeting, and sees nothing once it is
// withdrawn.

const NURSING = 'riverside-district-nursing';

describe('a care plan shared with the care team, in workerd', () => {
  it('is read and listed by the team only while the consent is in force', async () => {
    const gp = await tokenFor(GP, 'system/ServiceRequest.crs system/*.rs');
    const sp = await tokenFor(
      SP,
      'system/*.rs system/Task.rus system/CarePlan.cruds system/Consent.cu system/QuestionnaireResponse.crs',
    );
    const nurse = await tokenFor(NURSING, 'system/*.rs');
    const admin = await tokenFor('riverside-directory-admin', 'system/Organization.crus');
    // The directory may hold RDN01 already (one store for every workerd test): either is fine.
    const registered = await as(admin, '/fhir/Organization', {
      body: {
        resourceType: 'Organization',
        identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RDN01' }],
        name: 'Riverside District Nursing (example)',
        active: true,
      },
      headers: { 'if-none-exist': 'identifier=https://fhir.nhs.uk/Id/ods-organization-code|RDN01' },
    });
    expect([200, 201]).toContain(registered.status);
    const { srId } = await sendReferral(gp);
    expect((await postJson(sp, `/referrals/${srId}/$accept`, { businessStatus: 'contacted' })).status).toBe(
      200,
    );
    const planned = await postJson(sp, `/referrals/${srId}/care-plan`, {
      whatMattersToMe: 'Getting out more',
      author: { name: 'Link worker' },
      careTeam: [
        { name: 'Link worker', role: 'link-worker' },
        { name: 'District nurse', role: 'district-nurse', organisation: { odsCode: 'RDN01' } },
      ],
    });
    expect(planned.status).toBe(201);
    const planId = ((await planned.json()) as { carePlan: { id: string } }).carePlan.id;
    const nurseReads = async () => (await as(nurse, `/fhir/CarePlan/${planId}`)).status;
    const listed = async () =>
      (
        (await (await as(nurse, '/care-team/meeting-list?since=2000-01-01T00:00:00Z')).json()) as {
          people: { carePlan: { id: string } }[];
        }
      ).people.map((p) => p.carePlan.id);

    expect(await nurseReads()).toBe(404);
    expect(await listed()).not.toContain(planId);
    const shared = await postJson(sp, `/referrals/${srId}/care-team/consent`, { decision: 'share' });
    expect(shared.status).toBe(201);
    expect(await nurseReads()).toBe(200);
    expect(await listed()).toContain(planId);
    expect((await as(nurse, `/fhir/ServiceRequest/${srId}`)).status).toBe(404);
    const withdrawn = await postJson(sp, `/referrals/${srId}/care-team/consent`, { decision: 'withdraw' });
    expect(withdrawn.status).toBe(200);
    expect(await nurseReads()).toBe(404);
    expect(await listed()).not.toContain(planId);
    expect((await as(gp, `/fhir/CarePlan/${planId}`)).status).toBe(200);
  });
});
