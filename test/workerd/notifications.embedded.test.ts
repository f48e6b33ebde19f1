import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import type { Subscription, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { buildWorkerApp } from '../../src/edge/worker-app.ts';
import worker from '../../src/worker.ts';
import { call, newNhsNumber, outcomesOf, referralFor, tokenFrom } from './isolates.ts';

// Notifications on the Worker, through its outbox Queue: the app feeds each write to the Queue,
// the Worker's queue handler matches it and queues a notification, and the handler sends that to
// the subscriber's endpoint (a recorder outside workerd, reached by DNS over HTTPS and fetch).

const QUEUE = 'social-prescribing-outbox';
const GP = 'riverside-medical-gp-system';
const SP = 'riverside-social-prescribing';
const NURSING = 'riverside-district-nursing';
/** The secret the recorder in vitest.config.ts verifies signatures with. */
const SECRET = 'workerd-receiver-secret-0123456789';

interface Envelope {
  kind: string;
  payload: unknown;
}

/** Bindings whose outbox Queue records what it is sent. */
function recording() {
  const sent: Envelope[] = [];
  const bindings = { ...env, OUTBOX: { send: async (body: unknown) => void sent.push(body as Envelope) } };
  return { bindings, sent };
}

/** Runs the Worker's queue handler on one delivery of a message, as the Queue would. */
async function deliverOne(bindings: Record<string, unknown>, body: Envelope) {
  const id = `msg-${crypto.randomUUID().slice(0, 8)}`;
  const batch = createMessageBatch(QUEUE, [{ id, timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings, ctx);
  const result = await getQueueResult(batch, ctx);
  return {
    acked: result.explicitAcks.includes(id),
    retried: result.retryMessages.some((m) => m.msgId === id),
  };
}

/**
 * Runs the Worker's queue handler on each message, as the Queue would, until nothing new is queued;
 * the messages of a kind in `hold` are kept back and answered instead.
 */
async function drain(bindings: Record<string, unknown>, sent: Envelope[], hold: string[] = []) {
  const kinds: string[] = [];
  const held: Envelope[] = [];
  for (let i = 0; i < sent.length; i++) {
    const body = sent[i] as Envelope;
    kinds.push(body.kind);
    if (hold.includes(body.kind)) {
      held.push(body);
      continue;
    }
    expect((await deliverOne(bindings, body)).acked, body.kind).toBe(true);
  }
  return { kinds, held };
}

async function received(
  host: string,
): Promise<{ headers: Record<string, string>; body: string; signed: boolean }[]> {
  return (await (await fetch(`https://${host}/__received`)).json()) as never;
}

describe('notifications on the Worker', () => {
  it('go through the Queue: the GP’s subscriber is told of the accept, signed; another organisation’s is told nothing', async () => {
    const { bindings, sent } = recording();
    const app = await buildWorkerApp(bindings);
    const gp = await tokenFrom(app, GP, 'system/ServiceRequest.crs system/*.rs system/Subscription.cruds');
    const sp = await tokenFrom(app, SP, 'system/*.rs system/Task.rus');
    const nurse = await tokenFrom(app, NURSING, 'system/*.rs system/Subscription.cruds');
    const run = crypto.randomUUID().slice(0, 8);
    const gpHost = `gp-${run}.hooks.test`;
    const nurseHost = `nurse-${run}.hooks.test`;

    const referral = await call(app, '/fhir', {
      body: referralFor(newNhsNumber(), `RMP-NOTIFY-${run}`),
      headers: { authorization: `Bearer ${gp}`, 'content-type': 'application/fhir+json' },
    });
    expect(referral.status).toBe(200);
    const srId = outcomesOf(referral.text)
      .find((o) => o.location.startsWith('ServiceRequest/'))
      ?.location.split('/')[1] as string;
    const subscribe = async (token: string, host: string) => {
      const body: Subscription = {
        resourceType: 'Subscription',
        status: 'requested',
        reason: 'Told when the referral moves on',
        criteria: `Task?focus=ServiceRequest/${srId}`,
        channel: { type: 'rest-hook', endpoint: `https://${host}/hook`, payload: 'application/fhir+json' },
        extension: [
          {
            url: 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret',
            valueString: SECRET,
          },
        ],
      };
      const created = await call(app, '/fhir/Subscription', {
        body: JSON.stringify(body),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      });
      expect(created.status, created.text).toBe(201);
    };
    await subscribe(gp, gpHost);
    await subscribe(nurse, nurseHost);

    sent.length = 0;
    const accepted = await call(app, `/referrals/${srId}/$accept`, {
      body: '{}',
      headers: { authorization: `Bearer ${sp}`, 'content-type': 'application/json' },
    });
    expect(accepted.status).toBe(200);
    const { kinds } = await drain(bindings, sent);
    expect(kinds).toContain('subscription-changes');
    expect(kinds.filter((k) => k === 'subscription-notify')).toHaveLength(1);

    const got = await received(gpHost);
    expect(got).toHaveLength(1);
    const notification = got[0] as { headers: Record<string, string>; body: string; signed: boolean };
    // Verified outside workerd, with Node's HMAC and the secret the subscription named.
    expect(notification.signed).toBe(true);
    expect((JSON.parse(notification.body) as Task).status).toBe('accepted');
    expect(notification.body).not.toContain('organisation-access');
    expect(await received(nurseHost)).toEqual([]);
  });

  it('keep each subscription’s order through the Queue: a later notification delivered first waits for the earlier one', async () => {
    const { bindings, sent } = recording();
    const app = await buildWorkerApp(bindings);
    const gp = await tokenFrom(app, GP, 'system/ServiceRequest.crs system/*.rs system/Subscription.cruds');
    const sp = await tokenFrom(app, SP, 'system/*.rs system/Task.rus');
    const run = crypto.randomUUID().slice(0, 8);
    const host = `order-${run}.hooks.test`;
    const referral = await call(app, '/fhir', {
      body: referralFor(newNhsNumber(), `RMP-ORDER-${run}`),
      headers: { authorization: `Bearer ${gp}`, 'content-type': 'application/fhir+json' },
    });
    const srId = outcomesOf(referral.text)
      .find((o) => o.location.startsWith('ServiceRequest/'))
      ?.location.split('/')[1] as string;
    const created = await call(app, '/fhir/Subscription', {
      body: JSON.stringify({
        resourceType: 'Subscription',
        status: 'requested',
        reason: 'In order',
        criteria: `Task?focus=ServiceRequest/${srId}`,
        channel: { type: 'rest-hook', endpoint: `https://${host}/hook`, payload: 'application/fhir+json' },
        extension: [
          {
            url: 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret',
            valueString: SECRET,
          },
        ],
      }),
      headers: { authorization: `Bearer ${gp}`, 'content-type': 'application/fhir+json' },
    });
    expect(created.status).toBe(201);
    sent.length = 0;
    for (const step of ['accept', 'start']) {
      const moved = await call(app, `/referrals/${srId}/$${step}`, {
        body: '{}',
        headers: { authorization: `Bearer ${sp}`, 'content-type': 'application/json' },
      });
      expect(moved.status).toBe(200);
    }
    const { held } = await drain(bindings, sent, ['subscription-notify']);
    expect(held).toHaveLength(2);
    const [earlier, later] = held as [Envelope, Envelope];
    // The Queue hands over the later one first: it waits, and nothing is sent.
    expect(await deliverOne(bindings, later)).toEqual({ acked: false, retried: true });
    expect(await received(host)).toEqual([]);
    expect(await deliverOne(bindings, earlier)).toEqual({ acked: true, retried: false });
    expect(await deliverOne(bindings, later)).toEqual({ acked: true, retried: false });
    const got = await received(host);
    expect(got.map((g) => (JSON.parse(g.body) as Task).status)).toEqual(['accepted', 'in-progress']);
  });
});
