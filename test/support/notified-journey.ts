import type { Bundle, Subscription } from '@medplum/fhirtypes';
import { expect } from 'vitest';
import { type NotifiedApp, type NotifiedOptions, notifiedApp } from './notifications.ts';
import { type Receiver, startReceiver } from './receiver.ts';
import { exampleBody } from './referrals.ts';
import { GP, SP } from './secured.ts';

// The steps of the notification tests: apps and receivers made and closed, the GP's example
// referral sent, a subscription made, the referral moved on.

export const NURSING = 'riverside-district-nursing';
export const SP_SCOPES = 'system/*.rs system/Task.rus system/CarePlan.cruds system/QuestionnaireResponse.c';
export const SUBSCRIBER = 'system/*.rs system/Subscription.cruds';

/** Apps and receivers made by a test, closed by `close` (after each test). */
export class Harness {
  private readonly apps: NotifiedApp[] = [];
  private readonly receivers: Receiver[] = [];

  async app(options: NotifiedOptions = {}): Promise<NotifiedApp> {
    const a = await notifiedApp(options);
    this.apps.push(a);
    return a;
  }

  async receiver(): Promise<Receiver> {
    const r = await startReceiver();
    this.receivers.push(r);
    return r;
  }

  async close(): Promise<void> {
    for (const a of this.apps.splice(0)) await a.stop();
    for (const r of this.receivers.splice(0)) await r.close();
  }
}

export interface Sent {
  a: NotifiedApp;
  gp: string;
  sp: string;
  srId: string;
}

/** The GP's example referral, sent. */
export async function sent(a: NotifiedApp): Promise<Sent> {
  const gp = await a.token(GP, `system/ServiceRequest.crs system/Task.u ${SUBSCRIBER}`);
  const sp = await a.token(SP, SP_SCOPES);
  const answer = (await (
    await a.as(gp, '/fhir', { body: exampleBody('01-gp-transaction-bundle.200') })
  ).json()) as Bundle;
  const srId = answer.entry
    ?.map((e) => e.response?.location ?? '')
    .find((l) => l.startsWith('ServiceRequest/'))
    ?.split('/')[1] as string;
  return { a, gp, sp, srId };
}

/** A subscription made by `token`'s client: 201, or the test fails with the answer. */
export async function subscribe(a: NotifiedApp, token: string, body: Subscription): Promise<Subscription> {
  const response = await a.as(token, '/fhir/Subscription', { body });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as Subscription;
}

/** The referral moved on by the service (`accept`, `start`, `complete`, ...). */
export const move = (s: Sent, step: string) =>
  s.a.as(s.sp, `/referrals/${s.srId}/$${step}`, {
    body: {},
    headers: { 'content-type': 'application/json' },
  });
