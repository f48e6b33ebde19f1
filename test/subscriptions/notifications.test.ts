import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Bundle, CarePlan, Parameters, Subscription, Task } from '@medplum/fhirtypes';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { UNRESOLVED_OR_PRIVATE } from '../../src/subscriptions/endpoint-rules.ts';
import { TEST_NOW } from '../support/app.ts';
import { planWithTeamOn } from '../support/care-team.ts';
import { type NotifiedApp, type NotifiedOptions, SECRET, subscription } from '../support/notifications.ts';
import { Harness, move, NURSING, SUBSCRIBER, sent, subscribe } from '../support/notified-journey.ts';
import { signedWith } from '../support/receiver.ts';

// Notifications through the app, delivered over real HTTP to receivers on loopback: who is told,
// what they are sent, how it is signed, and what happens when a receiver fails.

const harness = new Harness();
afterEach(() => harness.close());
const app = (options: NotifiedOptions = {}) => harness.app(options);
const receiver = () => harness.receiver();

describe('notifications of a referral’s progress', () => {
  it('tell the GP of accept, start and complete within a second each, signed; another organisation on the same criteria hears nothing', async () => {
    const a = await app();
    const s = await sent(a);
    const gpHook = await receiver();
    const otherHook = await receiver();
    const criteria = 'Task?status=accepted,in-progress,completed';
    await subscribe(a, s.gp, subscription(criteria, gpHook.url));
    const nurse = await a.token(NURSING, SUBSCRIBER);
    await subscribe(a, nurse, subscription(criteria, otherHook.url));

    const statuses: string[] = [];
    for (const [i, step] of ['accept', 'start', 'complete'].entries()) {
      const before = Date.now();
      expect((await move(s, step)).status).toBe(200);
      const got = (await gpHook.waitFor(i + 1, 1_000))[i] as (typeof gpHook.received)[number];
      expect(got.at - before).toBeLessThan(1_000);
      expect(signedWith(SECRET, got)).toBe(true);
      expect(got.headers['content-type']).toBe('application/fhir+json');
      expect(got.headers['x-notification-id']).toMatch(/^[0-9a-f-]{36}$/);
      const task = JSON.parse(got.body) as Task;
      statuses.push(task.status);
      // What the GP reads of it: no labels of the service's own.
      expect(got.body).not.toContain('organisation-access');
    }
    expect(statuses).toEqual(['accepted', 'in-progress', 'completed']);
    // A signature made with another secret does not verify.
    expect(signedWith('another-secret-entirely', gpHook.received[0] as never)).toBe(false);
    // The district nurses' subscription has the same criteria; they see none of these Tasks.
    await new Promise((r) => setTimeout(r, 300));
    expect(otherHook.received).toHaveLength(0);
    expect(gpHook.received).toHaveLength(3);
  });

  it('a receiver answering 500 twice then 200 gets the notification three times with one id, then no more', async () => {
    const a = await app();
    const s = await sent(a);
    const hook = await receiver();
    hook.plan(500, 500, 200);
    const sub = await subscribe(a, s.gp, subscription('Task?status=accepted', hook.url));
    expect((await move(s, 'accept')).status).toBe(200);
    const got = await hook.waitFor(3, 3_000);
    expect(got.map((g) => g.status)).toEqual([500, 500, 200]);
    expect(new Set(got.map((g) => g.headers['x-notification-id'])).size).toBe(1);
    expect(got.every((g) => signedWith(SECRET, g))).toBe(true);
    await new Promise((r) => setTimeout(r, 600));
    expect(hook.received).toHaveLength(3);
    expect(a.outbox.stats().pending).toBe(0);
    // $status lists the three attempts, however often the subscription was read since (reads are
    // recorded against it too, later than the deliveries).
    a.setNow(new Date(TEST_NOW.getTime() + 60_000));
    for (let i = 0; i < 25; i++) expect((await a.as(s.gp, `/fhir/Subscription/${sub.id}`)).status).toBe(200);
    const status = (await (await a.as(s.gp, `/fhir/Subscription/${sub.id}/$status`)).json()) as Bundle;
    const deliveries = (status.entry?.[0]?.resource as Parameters | undefined)?.parameter?.filter(
      (p) => p.name === 'delivery',
    );
    const codes = deliveries?.map((d) => d.part?.find((p) => p.name === 'status-code')?.valueInteger);
    expect(codes?.sort()).toEqual([200, 500, 500]);
  });

  it('a receiver that never answers is timed out and tried again, and the subscription ends in error, saying why', async () => {
    const a = await app({ timeoutMs: 200 });
    const s = await sent(a);
    const hook = await receiver();
    hook.plan('hang', 'hang', 'hang');
    const sub = await subscribe(a, s.gp, subscription('Task?status=accepted', hook.url));
    expect((await move(s, 'accept')).status).toBe(200);
    await hook.waitFor(3, 5_000);
    const until = Date.now() + 3_000;
    let read: Subscription;
    do {
      await new Promise((r) => setTimeout(r, 50));
      read = (await (await a.as(s.gp, `/fhir/Subscription/${sub.id}`)).json()) as Subscription;
    } while (read.status !== 'error' && Date.now() < until);
    expect(read.status).toBe('error');
    expect(read.error).toBe('The endpoint did not accept a notification in 3 attempts');
    // $status lists the attempts, with no answer to any (their AuditEvents written first).
    await a.audit.flush();
    const status = (await (await a.as(s.gp, `/fhir/Subscription/${sub.id}/$status`)).json()) as Bundle;
    const params = status.entry?.[0]?.resource as Parameters;
    expect(params.parameter?.find((p) => p.name === 'status')?.valueCode).toBe('error');
    const deliveries = params.parameter?.filter((p) => p.name === 'delivery') ?? [];
    expect(deliveries.map((d) => d.part?.find((p) => p.name === 'attempt')?.valueInteger).sort()).toEqual([
      1, 2, 3,
    ]);
    expect(deliveries.every((d) => d.part?.find((p) => p.name === 'outcome')?.valueCode === 'failed')).toBe(
      true,
    );
    expect(deliveries.some((d) => d.part?.some((p) => p.name === 'status-code'))).toBe(false);
    // Nothing more is sent on it until its owner turns it on again.
    expect((await move(s, 'start')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.received).toHaveLength(3);
  });

  it('a redirect is not followed: the subscription ends in error naming it', async () => {
    const a = await app();
    const s = await sent(a);
    const hook = await receiver();
    const elsewhere = await receiver();
    hook.plan({ redirect: elsewhere.url });
    const sub = await subscribe(a, s.gp, subscription('Task?status=accepted', hook.url));
    expect((await move(s, 'accept')).status).toBe(200);
    await hook.waitFor(1);
    await new Promise((r) => setTimeout(r, 300));
    const read = (await (await a.as(s.gp, `/fhir/Subscription/${sub.id}`)).json()) as Subscription;
    expect(read.status).toBe('error');
    expect(read.error).toMatch(/302, a redirect, which is not followed/);
    expect(elsewhere.received).toHaveLength(0);
  });

  it('with no payload, the body is empty and still signed', async () => {
    const a = await app();
    const s = await sent(a);
    const hook = await receiver();
    const body = subscription('Task?status=accepted', hook.url);
    await subscribe(a, s.gp, { ...body, channel: { type: 'rest-hook', endpoint: hook.url } });
    expect((await move(s, 'accept')).status).toBe(200);
    const [got] = await hook.waitFor(1);
    expect(got?.body).toBe('');
    expect(got?.headers['content-type']).toBeUndefined();
    expect(signedWith(SECRET, got as never)).toBe(true);
  });

  it('pending deliveries wait for the next start when the process stops before sending them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'notify-'));
    try {
      const store = createEmbeddedStore({ timeoutMs: 5_000 }).store;
      const first = await app({ db: new DatabaseSync(join(dir, 'outbox.sqlite')), store, stopped: true });
      const s = await sent(first);
      const hook = await receiver();
      await subscribe(first, s.gp, subscription('Task?status=accepted', hook.url));
      expect((await move(s, 'accept')).status).toBe(200);
      expect(first.outbox.stats().pending).toBeGreaterThan(0);
      first.db.close();
      await new Promise((r) => setTimeout(r, 200));
      expect(hook.received).toHaveLength(0);
      // The same store and outbox file, a new process.
      await app({ db: new DatabaseSync(join(dir, 'outbox.sqlite')), store });
      const [got] = await hook.waitFor(1, 2_000);
      expect((JSON.parse(got?.body ?? '{}') as Task).status).toBe('accepted');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('notifications follow the sharing rules', () => {
  it('a care-team member is told of the plan only while the person’s consent stands, and nothing queued is sent once it is withdrawn', async () => {
    const a = await app();
    const s = await sent(a);
    const patients = (await (await a.as(s.gp, '/fhir/Patient')).json()) as Bundle;
    const patientId = patients.entry?.[0]?.resource?.id as string;
    const t = await planWithTeamOn({ s: a, gp: s.gp, sp: s.sp, srId: s.srId, patientId });
    const hook = await receiver();
    const nurse = await a.token(NURSING, SUBSCRIBER);
    await subscribe(a, nurse, subscription('CarePlan?status=active', hook.url));
    const retitle = async (title: string) => {
      const plan = (await (await a.as(t.spFull, `/fhir/CarePlan/${t.planId}`)).json()) as CarePlan;
      const put = await a.as(t.spFull, `/fhir/CarePlan/${t.planId}`, {
        method: 'PUT',
        body: { ...plan, title },
        headers: { 'if-match': `W/"${plan.meta?.versionId}"` },
      });
      expect(put.status).toBe(200);
    };
    const consent = (decision: string) =>
      a.as(t.spFull, `/referrals/${t.srId}/care-team/consent`, {
        body: { decision },
        headers: { 'content-type': 'application/json' },
      });

    // Before the person agrees: the plan changes, the team hears nothing.
    await retitle('Before consent');
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.received).toHaveLength(0);

    // Shared: the plan (now shared with them) and its changes are sent.
    expect((await consent('share')).status).toBe(201);
    await retitle('While shared');
    const until = Date.now() + 2_000;
    while (!hook.received.some((r) => r.body.includes('While shared')) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(hook.received.some((r) => r.body.includes('While shared'))).toBe(true);
    expect(hook.received.some((r) => r.body.includes('Before consent'))).toBe(true);
    const told = hook.received.length;

    // A change queued, then the consent withdrawn before it goes: it is never sent.
    await a.stop();
    await retitle('Queued before withdrawal');
    expect((await consent('withdraw')).status).toBe(200);
    await retitle('After withdrawal');
    a.outbox.start();
    await new Promise((r) => setTimeout(r, 500));
    expect(a.outbox.stats().pending).toBe(0);
    expect(hook.received).toHaveLength(told);
    // The GP, a party to the referral, is told of the same changes all along.
    const gpHook = await receiver();
    await subscribe(a, s.gp, subscription('CarePlan?status=active', gpHook.url));
    await retitle('Seen by the GP');
    await gpHook.waitFor(1);
  });
});

describe('what ends a subscription in error', () => {
  const errorOf = async (a: NotifiedApp, token: string, id: string) => {
    const until = Date.now() + 2_000;
    let read: Subscription;
    do {
      await new Promise((r) => setTimeout(r, 30));
      read = (await (await a.as(token, `/fhir/Subscription/${id}`)).json()) as Subscription;
    } while (read.status === 'active' && Date.now() < until);
    return [read.status, read.error];
  };

  it('an endpoint answering 404 is not tried again', async () => {
    const a = await app();
    const s = await sent(a);
    const hook = await receiver();
    hook.plan(404);
    const sub = await subscribe(a, s.gp, subscription('Task?status=accepted', hook.url));
    expect((await move(s, 'accept')).status).toBe(200);
    expect(await errorOf(a, s.gp, sub.id as string)).toEqual(['error', 'The endpoint answered 404']);
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.received).toHaveLength(1);
  });

  it('a name re-pointed at a private address after it was checked is refused before anything is sent', async () => {
    const answers: Record<string, string[]> = { 'hooks.gp.test': ['127.0.0.1'] };
    const a = await app({ resolve: async (host: string) => answers[host] ?? [] });
    const s = await sent(a);
    const hook = await receiver();
    const endpoint = hook.url.replace('127.0.0.1', 'hooks.gp.test');
    const sub = await subscribe(a, s.gp, subscription('Task?status=accepted', endpoint));
    answers['hooks.gp.test'] = ['10.20.30.40'];
    expect((await move(s, 'accept')).status).toBe(200);
    expect(await errorOf(a, s.gp, sub.id as string)).toEqual(['error', UNRESOLVED_OR_PRIVATE]);
    expect(hook.received).toHaveLength(0);
  });
});
