import type {
  Bundle,
  CarePlan,
  CareTeam,
  Goal,
  OperationOutcome,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import accept from '../../examples/journey/03-accept.200.request.json';
import firstConversation from '../../examples/journey/04-first-conversation.200.request.json';
import carePlanCreated from '../../examples/journey/05-care-plan-created.201.request.json';
import referralCompleted from '../../examples/journey/14-referral-completed.200.request.json';
import { as, GP, postJson, resourcesOf, SP, sendReferral } from './referrals.ts';
import { tokenFor } from './token.ts';

// The main journeys of a referral, in workerd against the embedded Medplum, through tokens the
// Worker issued to the test clients: the GP practice (B99901) and the social prescribing
// service it refers to (SPX01).

const NATIONAL_ACCEPTED = '871731000000106';
const PROGRESS = 'https://fhir.social-prescribing.example.org/CodeSystem/referral-business-status';

let gp: string;
let sp: string;
beforeAll(async () => {
  gp = await tokenFor(GP, 'system/ServiceRequest.crs system/Task.u system/*.rs');
  sp = await tokenFor(
    SP,
    'system/*.rs system/Task.rus system/CarePlan.cruds system/Goal.cruds system/CareTeam.cruds',
  );
});

async function readTask(token: string, taskId: string): Promise<{ task: Task; etag: string }> {
  const response = await as(token, `/fhir/Task/${taskId}`);
  expect(response.status).toBe(200);
  return { task: (await response.json()) as Task, etag: response.headers.get('etag') as string };
}

const putTask = (token: string, task: Task, ifMatch?: string) =>
  as(token, `/fhir/Task/${task.id}`, {
    method: 'PUT',
    body: task,
    ...(ifMatch ? { headers: { 'if-match': ifMatch } } : {}),
  });

async function expectOutcome(response: Response, status: number, code: string): Promise<OperationOutcome> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  const outcome = (await response.json()) as OperationOutcome;
  expect(outcome.issue?.map((i) => i.code)).toContain(code);
  return outcome;
}

describe('working a referral in workerd, against an embedded Medplum', () => {
  it('the service accepts by $accept and moves on by PUT with If-Match; illegal moves are 409; the GP follows', async () => {
    const { srId, taskId } = await sendReferral(gp);

    // The service finds the new referral's Task with the referral (examples/journey/02).
    const inbox = (await (
      await as(sp, `/fhir/Task?focus=ServiceRequest/${srId}&_include=Task:focus`)
    ).json()) as Bundle;
    expect(resourcesOf<Task>(inbox, 'Task').map((t) => [t.id, t.status])).toEqual([[taskId, 'requested']]);
    expect(resourcesOf<ServiceRequest>(inbox, 'ServiceRequest').map((r) => r.id)).toEqual([srId]);

    // Accepted by the plain operation (examples/journey/03).
    const accepted = await postJson(sp, `/referrals/${srId}/$accept`, accept.body);
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({
      status: 'accepted',
      businessStatus: 'contacted',
      task: { id: taskId },
      serviceRequest: { id: srId, status: 'active' },
    });

    // Work starts, as FHIR: the Task read, changed and sent back with its ETag.
    const { task, etag } = await readTask(sp, taskId);
    expect(accepted.headers.get('etag')).toBe(etag);
    await expectOutcome(await putTask(sp, { ...task, status: 'in-progress' }), 428, 'required');
    const step = firstConversation.body.businessStatus;
    const businessStatus = { coding: [{ system: PROGRESS, code: step }] };
    const started = await putTask(sp, { ...task, status: 'in-progress', businessStatus }, etag);
    expect(started.status).toBe(200);
    const inProgress = (await started.json()) as Task;
    expect([inProgress.status, inProgress.businessStatus?.coding?.[0]?.code]).toEqual(['in-progress', step]);
    expect(started.headers.get('etag')).not.toBe(etag);
    // The national code for the GP record, recorded once on acceptance.
    expect(inProgress.output?.map((o) => o.valueCodeableConcept?.coding?.[0]?.code)).toEqual([
      NATIONAL_ACCEPTED,
    ]);

    // The version read before that change is stale now: 412, nothing changes.
    await expectOutcome(await putTask(sp, { ...task, status: 'on-hold' }, etag), 412, 'conflict');

    // Back to accepted is not a move a referral can make: 409 naming where it can go.
    const current = await readTask(sp, taskId);
    const illegal = await expectOutcome(
      await putTask(sp, { ...current.task, status: 'accepted' }, current.etag),
      409,
      'business-rule',
    );
    expect(illegal.issue?.[0]?.diagnostics).toContain('on-hold');
    await expectOutcome(await postJson(sp, `/referrals/${srId}/$accept`), 409, 'business-rule');
    expect((await readTask(sp, taskId)).etag).toBe(current.etag);

    // The referrer does not move its referral on for the service.
    await expectOutcome(await postJson(gp, `/referrals/${srId}/$complete`), 403, 'forbidden');

    // The GP reads where its referral stands (examples/journey/16).
    const followed = (await (await as(gp, `/fhir/Task?focus=ServiceRequest/${srId}`)).json()) as Bundle;
    expect(followed.total).toBe(1);
    const seen = resourcesOf<Task>(followed, 'Task')[0];
    expect([seen?.id, seen?.status, seen?.businessStatus?.coding?.[0]?.code]).toEqual([
      taskId,
      'in-progress',
      step,
    ]);

    // Completed (examples/journey/14): the ServiceRequest follows, the GP sees both; nothing
    // moves an ended referral again (examples/journey/15).
    const completed = await postJson(sp, `/referrals/${srId}/$complete`, referralCompleted.body);
    expect(completed.status).toBe(200);
    expect(await completed.json()).toMatchObject({
      status: 'completed',
      businessStatus: 'connected-to-activity',
      serviceRequest: { status: 'completed' },
    });
    expect((await readTask(gp, taskId)).task.status).toBe('completed');
    const referral = (await (await as(gp, `/fhir/ServiceRequest/${srId}`)).json()) as ServiceRequest;
    expect(referral.status).toBe('completed');
    await expectOutcome(await postJson(sp, `/referrals/${srId}/$accept`), 409, 'business-rule');
  });

  it('the service writes the care plan as plain JSON; it reads back as FHIR, for the GP too; a second one is 409', async () => {
    const { srId, patientId } = await sendReferral(gp);
    expect((await postJson(sp, `/referrals/${srId}/$accept`, accept.body)).status).toBe(200);

    // examples/journey/05.
    const created = await postJson(sp, `/referrals/${srId}/care-plan`, carePlanCreated.body);
    expect(created.status).toBe(201);
    const answer = (await created.json()) as {
      carePlan: { id: string; location: string };
      goals: { id: string }[];
      careTeam: { id: string };
    };
    expect(answer.goals).toHaveLength(2);
    expect(created.headers.get('location')).toBe(answer.carePlan.location);

    for (const token of [sp, gp]) {
      const read = await as(token, `/fhir/CarePlan/${answer.carePlan.id}`);
      expect(read.status).toBe(200);
      expect(read.headers.get('etag')).toMatch(/^W\/".+"$/);
      const plan = (await read.json()) as CarePlan;
      expect([plan.status, plan.intent, plan.title]).toEqual(['active', 'plan', "Joseph's plan"]);
      expect(plan.subject.reference).toBe(`Patient/${patientId}`);
      expect(plan.supportingInfo?.map((r) => r.reference)).toEqual([`ServiceRequest/${srId}`]);
      expect(plan.activity?.map((a) => a.detail?.code?.coding?.[0]?.code)).toEqual([
        'volunteering',
        'physical-activity',
      ]);
      expect(plan.goal?.map((g) => g.reference).sort()).toEqual(
        answer.goals.map((g) => `Goal/${g.id}`).sort(),
      );
    }

    // The plan with its goals and care team, as a care-plan viewer searches for it.
    const found = (await (
      await as(
        sp,
        `/fhir/CarePlan?patient=Patient/${patientId}&_include=CarePlan:goal&_include=CarePlan:care-team&_count=100`,
      )
    ).json()) as Bundle;
    expect(resourcesOf<CarePlan>(found, 'CarePlan').map((p) => p.id)).toContain(answer.carePlan.id);
    const goals = resourcesOf<Goal>(found, 'Goal').map((g) => g.id);
    for (const goal of answer.goals) expect(goals).toContain(goal.id);
    expect(resourcesOf<CareTeam>(found, 'CareTeam').map((t) => t.id)).toContain(answer.careTeam.id);

    // One plan per referral while it is active (examples/journey/12).
    await expectOutcome(
      await postJson(sp, `/referrals/${srId}/care-plan`, carePlanCreated.body),
      409,
      'duplicate',
    );
  });

  it('$social-prescribing-summary gives the GP and the service the person’s whole picture', async () => {
    const { srId, taskId, patientId } = await sendReferral(gp);
    expect((await postJson(sp, `/referrals/${srId}/$accept`, accept.body)).status).toBe(200);
    const created = await postJson(sp, `/referrals/${srId}/care-plan`, carePlanCreated.body);
    expect(created.status).toBe(201);
    const { carePlan } = (await created.json()) as { carePlan: { id: string } };

    for (const token of [gp, sp]) {
      // examples/journey/17.
      const response = await as(token, `/fhir/Patient/${patientId}/$social-prescribing-summary`);
      expect(response.status).toBe(200);
      const summary = (await response.json()) as Bundle;
      expect([summary.resourceType, summary.type]).toEqual(['Bundle', 'collection']);
      expect(summary.entry?.[0]?.resource).toMatchObject({ resourceType: 'Patient', id: patientId });
      const ids = (type: string) =>
        (summary.entry ?? []).filter((e) => e.resource?.resourceType === type).map((e) => e.resource?.id);
      expect(ids('ServiceRequest')).toContain(srId);
      expect(ids('Task')).toContain(taskId);
      expect(ids('CarePlan')).toContain(carePlan.id);
      for (const type of ['Goal', 'CareTeam', 'Consent']) expect(ids(type).length).toBeGreaterThan(0);
    }
    const missing = await as(
      gp,
      '/fhir/Patient/00000000-0000-4000-8000-ffffffffffff/$social-prescribing-summary',
    );
    await expectOutcome(missing, 404, 'not-found');
  });
});
