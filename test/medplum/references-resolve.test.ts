import type { Reference, Resource } from '@medplum/fhirtypes';
import { afterEach, describe, expect, it } from 'vitest';
import { exampleReferral, nhsNumber } from '../../scripts/bench/referrals.ts';
import { seedDirectory } from '../../scripts/seed-lib.ts';
import { createMedplumClient, createMedplumStore, type FhirStore } from '../../src/medplum/store.ts';
import { call } from '../support/app.ts';
import {
  FAKE_MEDPLUM_CLIENT,
  type FakeMedplum,
  fakeMedplum,
  medplumHandlers,
} from '../support/medplum-handlers.ts';
import { server } from '../support/msw.ts';
import { facadeOn, settleAudits } from '../support/remote-medplum.ts';

// Medplum gives a conditional create its id, and rewrites the other entries' references to it,
// before its transaction starts; inside the transaction the create may find the same person
// stored meanwhile by another process, and the id it was given is never stored. Two facade
// processes (each with its own locks) on one Medplum, sending referrals of one new person from
// one new practitioner at once, must leave no reference to anything that is not there.

afterEach(settleAudits);

function facade(fake: FakeMedplum) {
  const store: FhirStore = createMedplumStore(
    createMedplumClient({ baseUrl: fake.baseUrl, ...FAKE_MEDPLUM_CLIENT, timeoutMs: 10_000 }),
  );
  return facadeOn(store);
}

/**
 * A fake Medplum with the directory seeded, and two facade processes (each with its own locks) on
 * it; a conditional transaction takes time there as on a real Medplum (15–30 ms), so the two overlap.
 */
async function twoProcesses(baseUrl: string) {
  const fake = fakeMedplum(baseUrl);
  server.use(...medplumHandlers(fake));
  await seedDirectory(
    createMedplumStore(
      createMedplumClient({ baseUrl: fake.baseUrl, ...FAKE_MEDPLUM_CLIENT, timeoutMs: 10_000 }),
    ),
  );
  fake.repo.serializableMs = 5;
  return { fake, a: facade(fake), b: facade(fake) };
}

const template = JSON.stringify(exampleReferral);

/** Round r's referral from process p: the round's new person and new practitioner, its own identifier. */
const referral = (round: number, process: string) =>
  template
    .replaceAll('9990000018', nhsNumber(100 + round))
    .replaceAll('555000000011', `5550001${String(round).padStart(3, '0')}11`)
    .replaceAll('555000000012', `5550001${String(round).padStart(3, '0')}12`)
    .replaceAll('RMP-2026-000101', `DANGLING-${round}-${process}`);

/** Every reference among stored resources that names a resource Medplum does not hold. */
function danglingReferences(resources: readonly Resource[]): string[] {
  const held = new Set(resources.map((r) => `${r.resourceType}/${r.id}`));
  const dangling: string[] = [];
  const visit = (node: unknown, from: string): void => {
    if (Array.isArray(node)) for (const item of node) visit(item, from);
    else if (typeof node === 'object' && node !== null) {
      const { reference } = node as Reference;
      if (typeof reference === 'string' && /^[A-Za-z]+\/[^/]+$/.test(reference) && !held.has(reference)) {
        dangling.push(`${from} -> ${reference}`);
      }
      for (const value of Object.values(node)) visit(value, from);
    }
  };
  for (const r of resources) if (r.resourceType !== 'AuditEvent') visit(r, `${r.resourceType}/${r.id}`);
  return dangling;
}

describe('referrals acknowledged by two processes at once', () => {
  it('point only at what is stored: one new person and one new practitioner, 10 rounds', async () => {
    const { fake, a, b } = await twoProcesses('https://two-processes.test/');
    for (let round = 1; round <= 10; round++) {
      const answers = await Promise.all([
        call(a.app, '/fhir', { body: referral(round, 'A') }),
        call(b.app, '/fhir', { body: referral(round, 'B') }),
      ]);
      expect(answers.map((r) => r.status)).toEqual([200, 200]);
    }
    expect(danglingReferences(fake.resources)).toEqual([]);
    // One record of each person and practitioner, whichever process stored it.
    const patients = fake.resources.filter((r) => r.resourceType === 'Patient');
    expect(patients).toHaveLength(10);
  });

  it('answer one plain-JSON referral sent to both at once with one 201 created and one 200', async () => {
    const { fake, a, b } = await twoProcesses('https://two-processes-json.test/');
    for (let round = 1; round <= 6; round++) {
      const json = {
        referralId: `JSON-TWICE-${round}`,
        patient: {
          nhsNumber: nhsNumber(200 + round),
          givenName: 'Amir',
          familyName: 'Rahman',
          birthDate: '1961-07-14',
        },
        referrer: { name: 'Sam Patel', organisation: { name: 'Sender', odsCode: 'B99901' } },
        receivingServiceOdsCode: 'SPX01',
        reasons: [{ snomedCode: '422650009' }],
        consent: { given: true, date: '2026-11-19T14:00:00Z' },
        authoredOn: '2026-11-19T14:05:00Z',
      };
      const send = (app: typeof a.app) =>
        call(app, '/referrals', { body: json, headers: { 'content-type': 'application/json' } });
      const answers = await Promise.all([send(a.app), send(b.app)]);
      const bodies = await Promise.all(answers.map((r) => r.json()));
      expect(answers.map((r) => r.status).sort(), `round ${round}`).toEqual([200, 201]);
      expect(bodies.map((body) => body.status).sort()).toEqual(['created', 'existing']);
      expect(new Set(bodies.map((body) => body.serviceRequest.id)).size).toBe(1);
    }
    expect(fake.resources.filter((r) => r.resourceType === 'ServiceRequest')).toHaveLength(6);
  });

  it('answer two referrals that both add to one person’s record 200, never 412: the loser reads again', async () => {
    const { fake, a, b } = await twoProcesses('https://two-processes-person.test/');
    for (let round = 1; round <= 6; round++) {
      const nhs = nhsNumber(300 + round);
      // The person on record without an address or phone, then two referrals adding one each.
      const first = JSON.parse(referral(round, `P0`).replaceAll(nhsNumber(100 + round), nhs));
      const patient = first.entry[0].resource;
      delete patient.address;
      delete patient.telecom;
      expect((await call(a.app, '/fhir', { body: first })).status).toBe(200);
      const adding = (process: string, field: object) => {
        const bundle = JSON.parse(referral(round, process).replaceAll(nhsNumber(100 + round), nhs));
        bundle.entry[0].resource = { ...bundle.entry[0].resource, address: undefined, ...field };
        return bundle;
      };
      const answers = await Promise.all([
        call(a.app, '/fhir', { body: adding('PA', { address: [{ city: 'Riverside' }] }) }),
        call(b.app, '/fhir', {
          body: adding('PB', { telecom: [{ system: 'phone', value: '01632 960001' }] }),
        }),
      ]);
      expect(
        answers.map((r) => r.status),
        `round ${round}`,
      ).toEqual([200, 200]);
      const stored = fake.resources.filter(
        (r) => r.resourceType === 'Patient' && JSON.stringify(r).includes(nhs),
      ) as { address?: unknown; telecom?: unknown }[];
      expect(stored).toHaveLength(1);
      expect([Boolean(stored[0]?.address), Boolean(stored[0]?.telecom)]).toEqual([true, true]);
    }
  });
});
