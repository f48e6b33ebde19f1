import type { Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { nhsNumber } from '../../scripts/bench/referrals.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { createInProcessLocks, type KeyedLocks } from '../../src/referrals/locks.ts';
import { call } from '../support/app.ts';
import { exampleBody, idInAnswer, postBundle, seededApp } from '../support/referrals.ts';

/** The store, counting the calls each request makes to Medplum (audit records, written after the answer, apart). */
function counting(store: FhirStore) {
  const calls: string[] = [];
  const counted = Object.fromEntries(
    Object.entries(store).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        const audit =
          name === 'create' && (args[0] as { resourceType?: string }).resourceType === 'AuditEvent';
        if (!audit) calls.push(name);
        return (fn as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as unknown as FhirStore;
  return { store: counted, calls };
}

/** The GP's example referral for person n (by default), under its own referral identifier. */
const referral = (n: number, person = n) =>
  JSON.parse(
    JSON.stringify(exampleBody('01-gp-transaction-bundle.200'))
      .replaceAll('9990000018', nhsNumber(person))
      .replaceAll('RMP-2026-000101', `TRIPS-${n}`),
  ) as Bundle;

describe('round trips to Medplum per operation', () => {
  it('intake from a known practice to a known service: 2, 3 for a new person; a Task move: 3; the summary: 2', async () => {
    const { store, calls } = counting(createEmbeddedStore({ timeoutMs: 5_000 }).store);
    const { app } = await seededApp({}, { store });
    // The practice and its practitioners become known with a first referral.
    expect((await postBundle(app, referral(1))).status).toBe(200);

    calls.length = 0;
    expect((await postBundle(app, referral(2))).status).toBe(200);
    // The look-ups (the referral accepted before among them), the new person, the rest.
    expect(calls).toEqual(['bundle', 'bundle', 'bundle']);

    calls.length = 0;
    const sent = await postBundle(app, referral(3, 2));
    expect(sent.status).toBe(200);
    // The person on record now: the look-ups and the transaction.
    expect(calls).toEqual(['bundle', 'bundle']);
    const answer = (await sent.json()) as Bundle;
    const id = (type: string) => idInAnswer(answer, type);

    calls.length = 0;
    expect((await call(app, `/referrals/${id('ServiceRequest')}/$accept`, { method: 'POST' })).status).toBe(
      200,
    );
    expect(calls).toHaveLength(3);

    calls.length = 0;
    expect((await call(app, `/fhir/Patient/${id('Patient')}/$social-prescribing-summary`)).status).toBe(200);
    expect(calls).toHaveLength(2);
  });

  it('a plain-JSON referral to a service named by ODS code: 2, 3 for a new person', async () => {
    const { store, calls } = counting(createEmbeddedStore({ timeoutMs: 5_000 }).store);
    const { app } = await seededApp({}, { store });
    const body = (n: number, person = n) => ({
      referralId: `WEB-TRIPS-${n}`,
      patient: {
        nhsNumber: nhsNumber(person),
        givenName: 'Amir',
        familyName: 'Rahman',
        birthDate: '1961-07-14',
      },
      referrer: { name: 'Sam Patel', organisation: { name: 'Riverside Community Centre', odsCode: 'RCC01' } },
      receivingServiceOdsCode: 'SPX01',
      reasons: [{ snomedCode: '422650009' }],
      consent: { given: true, date: '2026-11-19T14:00:00Z' },
      authoredOn: '2026-11-19T14:05:00Z',
    });
    const send = (n: number, person = n) =>
      call(app, '/referrals', { body: body(n, person), headers: { 'content-type': 'application/json' } });
    expect((await send(1)).status).toBe(201);
    calls.length = 0;
    expect((await send(2)).status).toBe(201);
    expect(calls).toHaveLength(3);
    calls.length = 0;
    expect((await send(3, 2)).status).toBe(201);
    expect(calls).toHaveLength(2);
  });

  it('looks again under the lock when an intake under the same keys ended after the first look-ups: 3, 4 for a new person', async () => {
    const { store, calls } = counting(createEmbeddedStore({ timeoutMs: 5_000 }).store);
    const inner = createInProcessLocks();
    // As if another intake for the same person ended between the look-ups and the lock.
    const locks: KeyedLocks = {
      withLocks: (keys, fn) => inner.withLocks(keys, fn),
      generations: async (keys) => new Map(keys.map((key) => [key, 'before'])),
    };
    const { app } = await seededApp({}, { store, locks });
    expect((await postBundle(app, referral(1))).status).toBe(200);
    calls.length = 0;
    expect((await postBundle(app, referral(2))).status).toBe(200);
    expect(calls).toEqual(['bundle', 'bundle', 'bundle', 'bundle']);
    calls.length = 0;
    expect((await postBundle(app, referral(3, 2))).status).toBe(200);
    expect(calls).toEqual(['bundle', 'bundle', 'bundle']);
    // A retry of the same referral found under the lock: the same answer, nothing new.
    calls.length = 0;
    const again = await postBundle(app, referral(2));
    expect(again.status).toBe(200);
  });
});
