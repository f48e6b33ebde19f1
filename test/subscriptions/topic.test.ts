import type { Bundle, Parameters, Subscription, Task } from '@medplum/fhirtypes';
import { afterEach, describe, expect, it } from 'vitest';
import { REFERRAL_TASK_STATUS_TOPIC } from '../../src/subscriptions/subscription-rules.ts';
import { planWithTeamOn } from '../support/care-team.ts';
import { SECRET, subscription, topicSubscription } from '../support/notifications.ts';
import { Harness, move, NURSING, SUBSCRIBER, sent, subscribe } from '../support/notified-journey.ts';
import { signedWith } from '../support/receiver.ts';

// The topic-based form of the Subscriptions R5 Backport IG: numbered events in history Bundles,
// one per change of a referral Task's status, and `$events` for a receiver that missed some.

const harness = new Harness();
afterEach(() => harness.close());
const app = () => harness.app();
const receiver = () => harness.receiver();

describe('the topic-based form (Subscriptions R5 Backport)', () => {
  it('sends history Bundles with the status and numbered events, one per status change', async () => {
    const a = await app();
    const s = await sent(a);
    const hook = await receiver();
    const sub = await subscribe(
      a,
      s.gp,
      topicSubscription(hook.url, 'id-only', `Task?focus=ServiceRequest/${s.srId}`),
    );
    expect(sub.status).toBe('active');
    for (const step of ['accept', 'start', 'complete']) expect((await move(s, step)).status).toBe(200);
    const got = await hook.waitFor(3, 2_000);
    const bundles = got.map((g) => JSON.parse(g.body) as Bundle);
    expect(bundles.every((b) => b.type === 'history')).toBe(true);
    const numbers = bundles.map((b) => {
      const status = b.entry?.[0]?.resource as Parameters;
      const event = status.parameter?.find((p) => p.name === 'notification-event');
      return event?.part?.find((p) => p.name === 'event-number')?.valueString;
    });
    expect(numbers).toEqual(['1', '2', '3']);
    // id-only: the Task's address, not its content.
    expect(bundles[0]?.entry?.[1]?.fullUrl).toMatch(/\/fhir\/Task\/[\w-]+$/);
    expect(bundles[0]?.entry?.[1]?.resource).toBeUndefined();
    expect(got.every((g) => signedWith(SECRET, g))).toBe(true);
    expect(got.map((g) => g.headers['x-event-number'])).toEqual(['1', '2', '3']);
    // A receiver that missed some asks how many there have been.
    const status = (await (await a.as(s.gp, `/fhir/Subscription/${sub.id}/$status`)).json()) as Bundle;
    const params = status.entry?.[0]?.resource as Parameters;
    expect(params.parameter?.find((p) => p.name === 'events-since-subscription-start')?.valueString).toBe(
      '3',
    );
    expect(params.parameter?.find((p) => p.name === 'topic')?.valueCanonical).toBe(
      REFERRAL_TASK_STATUS_TOPIC,
    );
  });

  it('answers $events for a receiver that missed some: the numbered events again, only what it may still see', async () => {
    const a = await app();
    const s = await sent(a);
    const hook = await receiver();
    hook.plan(404);
    const sub = await subscribe(
      a,
      s.gp,
      topicSubscription(hook.url, 'id-only', `Task?focus=ServiceRequest/${s.srId}`),
    );
    // The first notification is refused (the subscription ends in error); turned on again, the
    // receiver hears of the next event, numbered 2, and sees the gap.
    expect((await move(s, 'accept')).status).toBe(200);
    await hook.waitFor(1);
    let read: Subscription;
    do {
      await new Promise((r) => setTimeout(r, 20));
      read = (await (await a.as(s.gp, `/fhir/Subscription/${sub.id}`)).json()) as Subscription;
    } while (read.status !== 'error');
    const { error: _e, ...again } = { ...read, status: 'requested' as const };
    const on = await a.as(s.gp, `/fhir/Subscription/${sub.id}`, {
      method: 'PUT',
      body: again,
      headers: { 'if-match': `W/"${read.meta?.versionId}"` },
    });
    expect(on.status).toBe(200);
    expect((await move(s, 'start')).status).toBe(200);
    const [, second] = await hook.waitFor(2);
    expect(second?.headers['x-event-number']).toBe('2');
    // Both deliveries' AuditEvents, which $events reads, written (just after each is sent).
    const recorded = async () =>
      ((await (await a.as(s.gp, `/fhir/Subscription/${sub.id}/$events`)).json()) as Bundle).entry?.length;
    for (let i = 0; i < 50 && (await recorded()) !== 3; i++) await new Promise((r) => setTimeout(r, 20));
    const asked = await a.as(
      s.gp,
      `/fhir/Subscription/${sub.id}/$events?eventsSinceNumber=1&eventsUntilNumber=1&content=full-resource`,
    );
    expect(asked.status).toBe(200);
    const bundle = (await asked.json()) as Bundle;
    expect(bundle.type).toBe('history');
    const status = bundle.entry?.[0]?.resource as Parameters;
    expect(status.parameter?.find((p) => p.name === 'type')?.valueCode).toBe('query-event');
    const numbers = status.parameter
      ?.filter((p) => p.name === 'notification-event')
      .map((p) => p.part?.find((q) => q.name === 'event-number')?.valueString);
    expect(numbers).toEqual(['1']);
    expect((bundle.entry?.[1]?.resource as Task | undefined)?.status).toBe('accepted');
    // All of them, by default; refused when malformed or too wide; another organisation gets 404.
    const all = (await (await a.as(s.gp, `/fhir/Subscription/${sub.id}/$events`)).json()) as Bundle;
    expect(all.entry).toHaveLength(3);
    expect((await a.as(s.gp, `/fhir/Subscription/${sub.id}/$events?eventsSinceNumber=0`)).status).toBe(400);
    expect((await a.as(s.gp, `/fhir/Subscription/${sub.id}/$events?content=everything`)).status).toBe(400);
    expect((await a.as(s.gp, `/fhir/Subscription/${sub.id}/$events?eventsUntilNumber=500`)).status).toBe(422);
    const nurse = await a.token(NURSING, SUBSCRIBER);
    expect((await a.as(nurse, `/fhir/Subscription/${sub.id}/$events`)).status).toBe(404);
    // An R4 subscription numbers no events.
    const plain = await subscribe(a, s.gp, subscription('Task?status=accepted', hook.url));
    expect((await a.as(s.gp, `/fhir/Subscription/${plain.id}/$events`)).status).toBe(422);
  });

  it('is told of status changes only, not of other changes to the Task', async () => {
    const a = await app();
    const s = await sent(a);
    const hook = await receiver();
    await subscribe(
      a,
      s.gp,
      topicSubscription(hook.url, 'full-resource', `Task?focus=ServiceRequest/${s.srId}`),
    );
    // An R4 subscription on the same Task, told of every change, for comparison.
    const every = await receiver();
    await subscribe(a, s.gp, subscription(`Task?focus=ServiceRequest/${s.srId}`, every.url));
    expect((await move(s, 'accept')).status).toBe(200);
    await hook.waitFor(1);
    await every.waitFor(1);
    // A note on the Task is a new version of it, with the same status.
    const noted = await s.a.as(s.sp, `/referrals/${s.srId}/$progress`, {
      body: { note: 'Left a voicemail' },
      headers: { 'content-type': 'application/json' },
    });
    expect(noted.status).toBe(200);
    await every.waitFor(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(hook.received).toHaveLength(1);
    const bundle = JSON.parse(hook.received[0]?.body ?? '{}') as Bundle;
    expect((bundle.entry?.[1]?.resource as Task | undefined)?.status).toBe('accepted');
  });
});

describe('$events and the sharing rules', () => {
  it('answers a care-team member’s events only while the person’s consent shares the Task', async () => {
    const a = await app();
    const s = await sent(a);
    const patients = (await (await a.as(s.gp, '/fhir/Patient')).json()) as Bundle;
    const t = await planWithTeamOn({
      s: a,
      gp: s.gp,
      sp: s.sp,
      srId: s.srId,
      patientId: patients.entry?.[0]?.resource?.id as string,
    });
    const hook = await receiver();
    const nurse = await a.token(NURSING, SUBSCRIBER);
    const sub = await subscribe(
      a,
      nurse,
      topicSubscription(hook.url, 'id-only', `Task?focus=ServiceRequest/${s.srId}`),
    );
    const consent = (decision: string) =>
      a.as(t.spFull, `/referrals/${s.srId}/care-team/consent`, {
        body: { decision },
        headers: { 'content-type': 'application/json' },
      });
    expect((await consent('share')).status).toBe(201);
    expect((await move(s, 'start')).status).toBe(200);
    await hook.waitFor(1);
    const eventsNow = async () => {
      const answer = (await (await a.as(nurse, `/fhir/Subscription/${sub.id}/$events`)).json()) as Bundle;
      return (answer.entry?.[0]?.resource as Parameters | undefined)?.parameter?.filter(
        (p) => p.name === 'notification-event',
      ).length;
    };
    // The delivery's AuditEvent, which $events reads, is written just after it is sent.
    for (let i = 0; i < 50 && (await eventsNow()) !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await eventsNow()).toBe(1);
    expect((await consent('withdraw')).status).toBe(200);
    expect(await eventsNow()).toBe(0);
    // A token without Task read gets none at all.
    const narrow = await a.token(NURSING, 'system/Subscription.cruds');
    expect((await a.as(narrow, `/fhir/Subscription/${sub.id}/$events`)).status).toBe(403);
  });
});
