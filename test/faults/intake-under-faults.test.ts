import type { Bundle, Patient, Provenance, ServiceRequest, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { nhsNumber } from '../../scripts/bench/referrals.ts';
import { EMBEDDED_BASE_URL } from '../../src/medplum/embedded/connect.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import { createEmbeddedMedplum } from '../../src/medplum/embedded/server.ts';
import { createMedplumClient, createMedplumStore, type FhirStore } from '../../src/medplum/store.ts';
import { call, createTestApp } from '../support/app.ts';
import { FAULT_KINDS, faultyTransport, seededRandom } from '../support/faults.ts';
import { referralProblems } from '../support/integrity.ts';
import { all, exampleBody } from '../support/referrals.ts';

const REFERRALS = 300;
const FAULT_RATE = 0.2;
const ATTEMPTS = 15;
const SENDERS_AT_ONCE = 12;
const template = JSON.stringify(exampleBody('01-gp-transaction-bundle.200'));

/** Referral n: its own identifier; three referrals in a row share one new person. */
const referral = (n: number) =>
  template.replaceAll('9990000018', nhsNumber(Math.floor(n / 3))).replaceAll('RMP-2026-000101', `FAULT-${n}`);

function storeOver(
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>,
): FhirStore {
  const client = createMedplumClient({
    baseUrl: EMBEDDED_BASE_URL,
    clientId: 'faults',
    clientSecret: 'faults',
    timeoutMs: 150,
    fetch,
  });
  return createMedplumStore(client, { retries: 2, baseMs: 1, sleep: async () => {}, random: Math.random });
}

/** Runs `task` for 0..n-1, `width` at a time. */
async function pool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** Sends like a GP system: the same body and X-Request-ID again after every 5xx, up to ATTEMPTS times. */
async function send(
  app: ReturnType<typeof createTestApp>['app'],
  path: string,
  body: string,
  requestId: string,
) {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const response = await call(app, path, { method: 'POST', body, headers: { 'x-request-id': requestId } });
    if (response.status < 500)
      return { status: response.status, attempts: attempt, body: await response.json() };
    await response.body?.cancel();
  }
  return { status: 599, attempts: ATTEMPTS, body: undefined };
}

describe('referrals and their moves through an unreliable Medplum', () => {
  it(`${REFERRALS} referrals, ${FAULT_RATE * 100}% of Medplum calls failing in every way, retrying senders: nothing lost, duplicated or half-written`, async () => {
    const medplum = createEmbeddedMedplum();
    const clean = storeOver((input, init) => medplum.fetch(new Request(input, init)));
    await seedEmbeddedStore(clean);
    const faults = faultyTransport(medplum, FAULT_RATE, seededRandom(20261201));
    const { app } = createTestApp({}, { store: storeOver(faults.fetch), clock: () => new Date() });

    const answers: { n: number; status: number; body: unknown }[] = [];
    await pool(REFERRALS, SENDERS_AT_ONCE, async (n) => {
      answers.push({ n, ...(await send(app, '/fhir', referral(n), `intake-${n}`)) });
    });
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    // Forty of them accepted, the same way.
    const accepted: { n: number; status: number }[] = [];
    await pool(40, SENDERS_AT_ONCE, async (n) => {
      const srId = (answers.find((a) => a.n === n)?.body as Bundle | undefined)?.entry
        ?.map((e) => e.response?.location ?? '')
        .find((l) => l.startsWith('ServiceRequest/'))
        ?.split('/')[1];
      accepted.push({ n, ...(await send(app, `/referrals/${srId}/$accept`, '', `accept-${n}`)) });
    });
    await faults.settle();
    faults.heal();

    for (const kind of FAULT_KINDS) expect(faults.injected[kind]).toBeGreaterThan(10);
    expect(accepted.filter((a) => a.status !== 200)).toEqual([]);
    const srs = await all<ServiceRequest>(clean, 'ServiceRequest');
    const ids = srs.map((sr) => sr.identifier?.[0]?.value);
    // Every acknowledged referral is there, once.
    expect(new Set(ids).size).toBe(srs.length);
    expect(srs).toHaveLength(REFERRALS);
    // One record per person.
    const patients = await all<Patient>(clean, 'Patient');
    expect(patients).toHaveLength(Math.ceil(REFERRALS / 3));
    // Whole: each referral with its Patient, one Task, one intake Provenance, its Consent; no orphans.
    expect(await referralProblems(clean)).toEqual([]);
    // Each acceptance recorded once, with its Provenance.
    const tasks = await all<Task>(clean, 'Task');
    expect(tasks.filter((t) => t.status === 'accepted')).toHaveLength(40);
    const provenances = await all<Provenance>(clean, 'Provenance');
    const updates = provenances.filter((p) => p.activity?.coding?.some((c) => c.code === 'UPDATE'));
    expect(updates).toHaveLength(40);
  }, 120_000);
});
