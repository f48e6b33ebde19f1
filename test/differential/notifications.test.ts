import { createHmac } from 'node:crypto';
import type { Bundle } from '@medplum/fhirtypes';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type NotifiedApp,
  notifiedApp,
  SECRET,
  subscription,
  topicSubscription,
} from '../support/notifications.ts';
import { type Receiver, startReceiver } from '../support/receiver.ts';
import { exampleBody } from '../support/referrals.ts';
import { COMMUNITY, GP, SP } from '../support/secured.ts';
import { type Answer, Normaliser } from './normalise.ts';

/**
 * Non-interference for notifications: a practice's subscribers, in two worlds that differ only in
 * what other organisations did (the community centre referring the same person to the same
 * service, the service working that referral, the district nurses subscribing on the same
 * criteria), receive the same notifications, byte for byte once ids and times are normalised.
 */

const NURSING = 'riverside-district-nursing';
const opened: { stop(): Promise<void> }[] = [];
const receivers: Receiver[] = [];
afterAll(async () => {
  for (const o of opened) await o.stop();
  for (const r of receivers) await r.close();
});

const topic = (endpoint: string) => topicSubscription(endpoint, 'full-resource', 'Task?intent=order');

/** Waits until nothing is left to match or send. */
async function quiet(a: NotifiedApp): Promise<void> {
  for (let i = 0; i < 200 && a.outbox.stats().pending > 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(a.outbox.stats().pending).toBe(0);
}

/**
 * One world: the practice subscribes (by criteria, and by topic), refers, and the service works
 * its referral; in the busy world the others act in between.
 */
async function world(busy: boolean): Promise<Receiver[]> {
  const a = await notifiedApp();
  opened.push(a);
  const hooks = [await startReceiver(), await startReceiver(), await startReceiver()];
  receivers.push(...hooks);
  const [byCriteria, byTopic, plans] = hooks as [Receiver, Receiver, Receiver];
  const gp = await a.token(GP, 'system/ServiceRequest.crs system/*.rs system/Subscription.cruds');
  const sp = await a.token(SP, 'system/*.rs system/Task.rus system/Subscription.cruds');
  const json = { 'content-type': 'application/json' };
  if (busy) {
    const nurse = await a.token(NURSING, 'system/*.rs system/Subscription.cruds');
    const other = await startReceiver();
    receivers.push(other);
    await a.as(nurse, '/fhir/Subscription', {
      body: subscription('Task?status=accepted,completed', other.url),
    });
    await a.as(nurse, '/fhir/Subscription', { body: topic(other.url) });
  }
  for (const [criteria, hook] of [
    ['Task?status=requested,accepted,in-progress,completed', byCriteria],
    ['ServiceRequest?status=active,completed', plans],
  ] as const) {
    expect((await a.as(gp, '/fhir/Subscription', { body: subscription(criteria, hook.url) })).status).toBe(
      201,
    );
  }
  expect((await a.as(gp, '/fhir/Subscription', { body: topic(byTopic.url) })).status).toBe(201);

  let otherReferral: string | undefined;
  if (busy) {
    // The community centre refers the same person to the same service, which accepts at once.
    const community = await a.token(COMMUNITY, 'system/ServiceRequest.c');
    const body = JSON.parse(
      JSON.stringify(exampleBody('04-plain-json-referral.201')).replaceAll('999 000 0034', '9990000018'),
    );
    const sent = await a.as(community, '/referrals', { body, headers: json });
    expect(sent.status).toBe(201);
    otherReferral = ((await sent.json()) as { serviceRequest?: { id?: string } }).serviceRequest?.id;
    expect((await a.as(sp, `/referrals/${otherReferral}/$accept`, { body: {}, headers: json })).status).toBe(
      200,
    );
  }
  await quiet(a);
  const sent = (await (
    await a.as(gp, '/fhir', { body: exampleBody('01-gp-transaction-bundle.200') })
  ).json()) as Bundle;
  const srId = sent.entry
    ?.map((e) => e.response?.location ?? '')
    .find((l) => l.startsWith('ServiceRequest/'))
    ?.split('/')[1];
  await quiet(a);
  for (const step of ['accept', 'start', 'complete']) {
    expect((await a.as(sp, `/referrals/${srId}/$${step}`, { body: {}, headers: json })).status).toBe(200);
    if (busy && step === 'start') {
      expect(
        (await a.as(sp, `/referrals/${otherReferral}/$complete`, { body: {}, headers: json })).status,
      ).toBe(200);
    }
    await quiet(a);
  }
  return hooks;
}

/** A notification as compared: its body and headers, ids and times normalised, the signature checked. */
function asAnswer(received: Receiver['received'][number]): Answer {
  const signature = createHmac('sha256', SECRET).update(received.body).digest('hex');
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'x-notification-id', 'x-subscription-id', 'x-event-number']) {
    const value = received.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  headers['x-signature'] = received.headers['x-signature'] === signature ? '<valid>' : '<INVALID>';
  return { status: received.status, headers, body: received.body ? JSON.parse(received.body) : '' };
}

describe('notifications do not depend on what other organisations did', () => {
  it('a practice’s receivers get the same notifications in a quiet world and a busy one', async () => {
    const quietHooks = await world(false);
    const busyHooks = await world(true);
    const normalisers = [new Normaliser(), new Normaliser()] as const;
    for (const [i, name] of ['criteria', 'topic', 'referrals'].entries()) {
      const q = (quietHooks[i] as Receiver).received.map((r) => normalisers[0].normalise(asAnswer(r)));
      const b = (busyHooks[i] as Receiver).received.map((r) => normalisers[1].normalise(asAnswer(r)));
      expect(q.length, name).toBeGreaterThan(0);
      expect(b, name).toEqual(q);
    }
    // What each was told, in order: the Task's four states; four numbered events; the referral
    // sent and then completed.
    const statuses = (hooks: Receiver[], i: number) =>
      (hooks[i] as Receiver).received.map((r) => (JSON.parse(r.body) as { status?: string }).status);
    expect(statuses(busyHooks, 0)).toEqual(['requested', 'accepted', 'in-progress', 'completed']);
    expect((busyHooks[1] as Receiver).received.map((r) => r.headers['x-event-number'])).toEqual([
      '1',
      '2',
      '3',
      '4',
    ]);
    expect(statuses(busyHooks, 2)).toEqual(['active', 'completed']);
  });
});
