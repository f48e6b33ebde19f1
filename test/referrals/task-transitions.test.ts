import type { Bundle, Provenance, ServiceRequest, Task } from '@medplum/fhirtypes';
import { beforeEach, describe, expect, it } from 'vitest';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';
import { expectOutcome } from '../support/app.ts';
import { exampleBody } from '../support/referrals.ts';
import { GP, type SecuredApp, SP, securedApp } from '../support/secured.ts';

const PROGRESS = 'https://fhir.social-prescribing.example.org/CodeSystem/referral-business-status';

let s: SecuredApp;
let gp: string;
let sp: string;
let srId: string;
let taskId: string;

beforeEach(async () => {
  s = await securedApp();
  gp = await s.token(GP, 'system/ServiceRequest.crs system/*.rs');
  sp = await s.token(SP, 'system/*.rs system/Task.rus system/CarePlan.cruds');
  const sent = (await (
    await s.as(gp, '/fhir', { body: exampleBody('01-gp-transaction-bundle.200') })
  ).json()) as Bundle;
  srId = sent.entry
    ?.map((e) => e.response?.location ?? '')
    .find((l) => l.startsWith('ServiceRequest/'))
    ?.split('/')[1] as string;
  const tasks = (await (await s.as(sp, `/fhir/Task?focus=ServiceRequest/${srId}`)).json()) as Bundle;
  taskId = tasks.entry?.[0]?.resource?.id as string;
});

async function readTask(token = sp): Promise<{ task: Task; etag: string }> {
  const response = await s.as(token, `/fhir/Task/${taskId}`);
  return { task: (await response.json()) as Task, etag: response.headers.get('etag') as string };
}

const put = (token: string, task: Task, etag?: string) =>
  s.as(token, `/fhir/Task/${taskId}`, {
    method: 'PUT',
    body: task,
    headers: etag ? { 'if-match': etag } : {},
  });

const op = (token: string, name: string, body: unknown = {}) =>
  s.as(token, `/referrals/${srId}/${name}`, { body, headers: { 'content-type': 'application/json' } });

async function provenances(): Promise<Provenance[]> {
  const found = (await s.store.search('Provenance', { target: `Task/${taskId}`, _count: '100' })) as Bundle;
  return (found.entry ?? []).map((e) => e.resource as Provenance);
}

describe('the referral Task as a state machine', () => {
  it('the service accepts with PUT and If-Match: national code recorded once, Provenance with the request id', async () => {
    const { task, etag } = await readTask();
    const response = await put(sp, { ...task, status: 'accepted' }, etag);
    expect(response.status).toBe(200);
    const accepted = (await response.json()) as Task;
    expect(accepted.status).toBe('accepted');
    expect(response.headers.get('etag')).not.toBe(etag);
    const codes = accepted.output?.map((o) => o.valueCodeableConcept?.coding?.[0]?.code);
    expect(codes).toEqual(['871731000000106']);
    const updates = (await provenances()).filter((p) => p.activity?.coding?.[0]?.code === 'UPDATE');
    expect(updates).toHaveLength(1);
    expect(updates[0]?.entity?.[0]?.what?.identifier?.system).toBe(OWN_SYSTEM.requestId);
    expect(updates[0]?.agent[0]?.who?.identifier?.value).toBe('SPX01');
    // Moving on keeps the one national code.
    const again = await readTask();
    const started = (await (
      await put(sp, { ...again.task, status: 'in-progress' }, again.etag)
    ).json()) as Task;
    expect(started.output).toHaveLength(1);
  });

  it('needs If-Match (428) and refuses a stale one (412), changing nothing', async () => {
    const { task, etag } = await readTask();
    await expectOutcome(await put(sp, { ...task, status: 'accepted' }), 428, 'required');
    await expectOutcome(
      await put(sp, { ...task, status: 'accepted' }, 'W/"not-the-version"'),
      412,
      'conflict',
    );
    expect((await readTask()).etag).toBe(etag);
  });

  it('refuses an illegal move with 409 naming where it can go, changing nothing', async () => {
    const { task, etag } = await readTask();
    const outcome = await expectOutcome(
      await put(sp, { ...task, status: 'completed' }, etag),
      409,
      'business-rule',
    );
    expect(outcome.issue[0].diagnostics).toContain('accepted, rejected, cancelled, entered-in-error');
    expect((await readTask()).etag).toBe(etag);
    expect((await provenances()).filter((p) => p.activity?.coding?.[0]?.code === 'UPDATE')).toEqual([]);
  });

  it('refuses changes to anything but the progress (422), and a decline without a reason', async () => {
    const { task, etag } = await readTask();
    const moved = await put(sp, { ...task, owner: { reference: 'Organization/elsewhere' } }, etag);
    const outcome = await expectOutcome(moved, 422, 'business-rule');
    expect(outcome.issue[0].expression).toEqual(['Task.owner']);
    await expectOutcome(await put(sp, { ...task, status: 'rejected' }, etag), 422, 'required');
    const badStep = { ...task, businessStatus: { coding: [{ system: PROGRESS, code: 'teleported' }] } };
    await expectOutcome(await put(sp, badStep, etag), 422, 'code-invalid');
    expect((await readTask()).etag).toBe(etag);
  });

  it('lets the referrer cancel, not accept; the ServiceRequest follows in the same write', async () => {
    const gpWriter = await s.token(GP, 'system/Task.u system/*.rs');
    const { task, etag } = await readTask(gp);
    // The referrer's part: withdraw, never accept.
    await expectOutcome(await put(gpWriter, { ...task, status: 'accepted' }, etag), 403, 'forbidden');
    const reason = { text: 'Referred elsewhere' };
    const cancelled = await put(gpWriter, { ...task, status: 'cancelled', statusReason: reason }, etag);
    expect(cancelled.status).toBe(200);
    const sr = (await (await s.as(gp, `/fhir/ServiceRequest/${srId}`)).json()) as ServiceRequest;
    expect(sr.status).toBe('revoked');
  });

  it('hides the Task from other organisations and refuses tokens without Task update', async () => {
    const { task, etag } = await readTask();
    const readOnly = await s.token(SP, 'system/*.rs');
    await expectOutcome(await put(readOnly, { ...task, status: 'accepted' }, etag), 403, 'forbidden');
  });

  it('refuses a PATCH that is not a JSON Patch array (400) or does not apply (422)', async () => {
    const { etag } = await readTask();
    const patch = (body: unknown) =>
      s.as(sp, `/fhir/Task/${taskId}`, {
        method: 'PATCH',
        body,
        headers: { 'content-type': 'application/json-patch+json', 'if-match': etag },
      });
    await expectOutcome(await patch({ op: 'replace' }), 400, 'structure');
    await expectOutcome(
      await patch([{ op: 'test', path: '/status', value: 'completed' }]),
      422,
      'processing',
    );
    expect((await readTask()).etag).toBe(etag);
  });

  it('applies a JSON Patch with If-Match', async () => {
    const { etag } = await readTask();
    const response = await s.as(sp, `/fhir/Task/${taskId}`, {
      method: 'PATCH',
      body: [{ op: 'replace', path: '/status', value: 'accepted' }],
      headers: { 'content-type': 'application/json-patch+json', 'if-match': etag },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Task).status).toBe('accepted');
  });
});

describe('plain referral operations', () => {
  it('walks a referral from accept to complete; the ServiceRequest completes with it', async () => {
    expect((await (await op(sp, '$accept')).json()).status).toBe('accepted');
    const contacted = await (await op(sp, '$progress', { businessStatus: 'contacted' })).json();
    expect(contacted).toMatchObject({ status: 'accepted', businessStatus: 'contacted' });
    expect(
      (await (await op(sp, '$start', { businessStatus: 'first-conversation-held' })).json()).status,
    ).toBe('in-progress');
    const done = await (await op(sp, '$complete', { businessStatus: 'connected-to-activity' })).json();
    expect(done).toMatchObject({ status: 'completed', serviceRequest: { status: 'completed' } });
    // The referrer sees where it stands.
    const status = (await (await s.as(gp, `/fhir/Task?focus=ServiceRequest/${srId}`)).json()) as Bundle;
    expect((status.entry?.[0]?.resource as Task | undefined)?.status).toBe('completed');
    await expectOutcome(await op(sp, '$progress', { businessStatus: 'discharged' }), 409, 'business-rule');
  });

  it('records the person declining with the national code', async () => {
    await expectOutcome(await op(sp, '$decline'), 422, 'required');
    const declined = await op(sp, '$decline', { reason: 'Does not want support at the moment' });
    expect(declined.status).toBe(200);
    const { task } = await readTask();
    expect(task.status).toBe('rejected');
    expect(task.businessStatus?.coding?.[0]?.code).toBe('declined-by-person');
    expect(task.output?.[0]?.valueCodeableConcept?.coding?.[0]?.code).toBe('871711000000103');
  });

  it('answers an unknown operation 404, a bad body 400, and an unknown referral 404', async () => {
    await expectOutcome(await op(sp, '$teleport'), 404, 'not-supported');
    await expectOutcome(await op(sp, '$accept', { colour: 'blue' }), 400, 'value');
    const other = await s.as(sp, '/referrals/00000000-0000-4000-8000-ffffffffffff/$accept', {
      body: {},
      headers: { 'content-type': 'application/json' },
    });
    expect(other.status).toBe(404);
  });
});
