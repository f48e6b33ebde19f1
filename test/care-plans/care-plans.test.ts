import type { Bundle, CarePlan, CareTeam, Goal, Provenance } from '@medplum/fhirtypes';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectOutcome } from '../support/app.ts';
import { postJson, type Referred, referred } from '../support/journey.ts';
import { counts } from '../support/referrals.ts';

const CATEGORY =
  'https://fhir.social-prescribing.example.org/CodeSystem/social-prescribing-activity-category';

const plan = {
  status: 'active',
  title: 'Grace’s plan',
  whatMattersToMe: 'Getting out of the house and meeting people who like gardening',
  period: { start: '2026-11-21' },
  author: { name: 'Sam Link-Worker' },
  goals: [
    { description: 'Go to the community garden twice a week', dueDate: '2027-01-31' },
    { description: 'Feel less lonely' },
  ],
  activities: [
    {
      category: 'nature-and-green',
      description: 'Riverside community garden, Tuesday and Friday mornings',
      status: 'scheduled',
      provider: { name: 'Riverside Community Garden' },
      schedule: 'Tuesdays and Fridays 10:00',
      goal: 0,
    },
    { category: 'social-connection', description: 'Befriending call weekly', status: 'not-started', goal: 1 },
  ],
  careTeam: [
    { name: 'Sam Link-Worker', role: 'link-worker' },
    { name: 'Dr A Example', role: 'gp' },
  ],
};

let r: Referred;
beforeEach(async () => {
  r = await referred();
});

const accept = () => postJson(r, r.sp, `/referrals/${r.srId}/$accept`);
const createPlan = (body: unknown = plan) => postJson(r, r.sp, `/referrals/${r.srId}/care-plan`, body);

describe('the referral’s care plan', () => {
  it('is written by the service once it accepted the referral, with its goals and team, and read by the GP', async () => {
    await expectOutcome(await createPlan(), 409, 'business-rule');
    expect((await accept()).status).toBe(200);
    const created = await createPlan();
    expect(created.status).toBe(201);
    const answer = await created.json();
    expect(answer.goals).toHaveLength(2);

    const read = await r.s.as(r.gp, `/fhir/CarePlan/${answer.carePlan.id}`);
    expect(read.status).toBe(200);
    const carePlan = (await read.json()) as CarePlan;
    expect(carePlan).toMatchObject({
      status: 'active',
      intent: 'plan',
      description: plan.whatMattersToMe,
      supportingInfo: [{ reference: `ServiceRequest/${r.srId}` }],
      subject: { reference: `Patient/${r.patientId}` },
    });
    expect(carePlan.activity?.map((a) => a.detail?.code?.coding?.[0])).toEqual([
      { system: CATEGORY, code: 'nature-and-green', display: 'Nature and green activities' },
      { system: CATEGORY, code: 'social-connection', display: 'Social groups and befriending' },
    ]);
    expect(carePlan.activity?.[0]?.detail?.goal?.[0]?.reference).toBe(carePlan.goal?.[0]?.reference);
    const goal = (await (await r.s.as(r.gp, `/fhir/${carePlan.goal?.[0]?.reference}`)).json()) as Goal;
    expect(goal).toMatchObject({ lifecycleStatus: 'active', target: [{ dueDate: '2027-01-31' }] });
    const team = (await (
      await r.s.as(r.gp, `/fhir/${carePlan.careTeam?.[0]?.reference}`)
    ).json()) as CareTeam;
    expect(team.participant?.map((p) => p.role?.[0]?.coding?.[0]?.code)).toEqual(['link-worker', 'gp']);
    const byPatient = (await (
      await r.s.as(
        r.gp,
        `/fhir/CarePlan?patient=Patient/${r.patientId}&_include=CarePlan:goal&_include=CarePlan:care-team`,
      )
    ).json()) as Bundle;
    expect(byPatient.entry?.map((e) => e.resource?.resourceType).sort()).toEqual([
      'CarePlan',
      'CareTeam',
      'Goal',
      'Goal',
    ]);
    const provenance = (await r.s.store.search('Provenance', {
      target: `CarePlan/${carePlan.id}`,
    })) as Bundle;
    expect((provenance.entry?.[0]?.resource as Provenance | undefined)?.activity?.coding?.[0]?.code).toBe(
      'CREATE',
    );
  });

  it('is one per referral until that one is completed or revoked', async () => {
    await accept();
    const first = await (await createPlan()).json();
    const before = await counts(r.s.store);
    await expectOutcome(await createPlan(), 409, 'duplicate');
    expect(await counts(r.s.store)).toEqual(before);
    const read = await r.s.as(r.sp, `/fhir/CarePlan/${first.carePlan.id}`);
    const current = (await read.json()) as CarePlan;
    const done = await r.s.as(r.sp, `/fhir/CarePlan/${current.id}`, {
      method: 'PUT',
      body: { ...current, status: 'completed' },
      headers: { 'if-match': read.headers.get('etag') as string },
    });
    expect(done.status).toBe(200);
    expect((await createPlan()).status).toBe(201);
  });

  it('refuses an activity with an unknown category, naming it, and stores nothing', async () => {
    await accept();
    const before = await counts(r.s.store);
    const bad = { ...plan, activities: [{ ...plan.activities[0], category: 'skydiving' }] };
    const outcome = await expectOutcome(await createPlan(bad), 422, 'code-invalid');
    expect(outcome.issue[0].expression).toEqual(['activities[0].category']);
    await expectOutcome(
      await createPlan({ ...plan, careTeam: [{ name: 'X', role: 'wizard' }] }),
      422,
      'code-invalid',
    );
    await expectOutcome(await createPlan({ ...plan, whatMattersToMe: undefined }), 400, 'required');
    expect(await counts(r.s.store)).toEqual(before);
  });

  it('is written only by the service the referral was sent to', async () => {
    await accept();
    const gpWriter = await r.s.token('riverside-medical-gp-system', 'system/*.rs');
    await expectOutcome(
      await postJson(r, gpWriter, `/referrals/${r.srId}/care-plan`, plan),
      403,
      'forbidden',
    );
  });

  it('is updated with If-Match; its referral and person do not change; an ended plan does not change', async () => {
    await accept();
    const { carePlan } = await (await createPlan()).json();
    const read = await r.s.as(r.sp, `/fhir/CarePlan/${carePlan.id}`);
    const etag = read.headers.get('etag') as string;
    const current = (await read.json()) as CarePlan;
    const put = (body: CarePlan, ifMatch?: string) =>
      r.s.as(r.sp, `/fhir/CarePlan/${carePlan.id}`, {
        method: 'PUT',
        body,
        headers: ifMatch ? { 'if-match': ifMatch } : {},
      });
    await expectOutcome(await put(current), 428, 'required');
    await expectOutcome(await put(current, 'W/"old"'), 412, 'conflict');
    await expectOutcome(
      await put({ ...current, subject: { reference: 'Patient/other' } }, etag),
      422,
      'business-rule',
    );
    await expectOutcome(await put({ ...current, status: 'draft' }, etag), 409, 'business-rule');
    const patch = (body: unknown) =>
      r.s.as(r.sp, `/fhir/CarePlan/${carePlan.id}`, {
        method: 'PATCH',
        body,
        headers: { 'content-type': 'application/json-patch+json', 'if-match': etag },
      });
    await expectOutcome(await patch({ op: 'replace' }), 400, 'structure');
    await expectOutcome(await patch([{ op: 'remove', path: '/nothing/there' }]), 422, 'processing');
    const activity = {
      ...current.activity?.[0],
      detail: { ...current.activity?.[0]?.detail, status: 'in-progress' },
    };
    const updated = await put(
      { ...current, activity: [activity as never, ...(current.activity?.slice(1) ?? [])] },
      etag,
    );
    expect(updated.status).toBe(200);
    const v2 = (await updated.json()) as CarePlan;
    expect(v2.activity?.[0]?.detail?.status).toBe('in-progress');
    const history = (await (await r.s.as(r.gp, `/fhir/CarePlan/${carePlan.id}/_history`)).json()) as Bundle;
    expect(history.entry).toHaveLength(2);
    const revoked = await put({ ...v2, status: 'revoked' }, updated.headers.get('etag') as string);
    expect(revoked.status).toBe(200);
    const ended = (await revoked.json()) as CarePlan;
    await expectOutcome(
      await put({ ...ended, title: 'x' }, revoked.headers.get('etag') as string),
      409,
      'business-rule',
    );
  });

  it('refuses a care plan Bundle holding anything else, or entries not created by POST', async () => {
    await accept();
    const before = await counts(r.s.store);
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' } },
          request: { method: 'POST', url: 'Observation' },
        },
        {
          resource: {
            resourceType: 'CarePlan',
            status: 'active',
            intent: 'plan',
            subject: { reference: `Patient/${r.patientId}` },
          },
          request: { method: 'PUT', url: 'CarePlan/x' },
        },
      ],
    };
    const outcome = await expectOutcome(await r.s.as(r.sp, '/fhir', { body: bundle }), 400, 'structure');
    expect(outcome.issue.flatMap((i: { expression?: string[] }) => i.expression ?? [])).toEqual([
      'Bundle.entry[0].resource',
      'Bundle.entry[1].request',
    ]);
    expect(await counts(r.s.store)).toEqual(before);
  });

  it('accepts the FHIR form: a transaction Bundle of the CarePlan with its Goals and CareTeam', async () => {
    await accept();
    const subject = { reference: `Patient/${r.patientId}` };
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:6a0b8e8e-0000-4000-8000-000000000001',
          resource: {
            resourceType: 'Goal',
            lifecycleStatus: 'active',
            description: { text: 'Walk daily' },
            subject,
          },
          request: { method: 'POST', url: 'Goal' },
        },
        {
          fullUrl: 'urn:uuid:6a0b8e8e-0000-4000-8000-000000000002',
          resource: {
            resourceType: 'CarePlan',
            status: 'active',
            intent: 'plan',
            subject,
            supportingInfo: [{ reference: `ServiceRequest/${r.srId}` }],
            goal: [{ reference: 'urn:uuid:6a0b8e8e-0000-4000-8000-000000000001' }],
            activity: [
              {
                detail: {
                  code: { coding: [{ system: CATEGORY, code: 'physical-activity' }] },
                  status: 'not-started',
                  description: 'Walking group',
                },
              },
            ],
          },
          request: { method: 'POST', url: 'CarePlan' },
        },
      ],
    };
    const response = await r.s.as(r.sp, '/fhir', { body: bundle });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as Bundle;
    expect(answer.type).toBe('transaction-response');
    expect(answer.entry?.map((e) => e.response?.status)).toEqual(['201 Created', '201 Created']);
    const carePlan = answer.entry?.[1]?.resource as CarePlan;
    expect(carePlan.goal?.[0]?.reference).toBe(`Goal/${answer.entry?.[0]?.resource?.id}`);
  });
});
