import type { Bundle, Patient } from '@medplum/fhirtypes';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeMedplum, medplumHandlers } from '../support/medplum-handlers.ts';
import { server } from '../support/msw.ts';
import { idFor } from './requests.ts';
import { runGenerated, same, type WorldPair, worldPair } from './run.ts';
import { jsonReferral, namedPersonReferral, otherDetails, PEOPLE, referralBundle } from './scenario.ts';
import { CLIENT, type StoreKind } from './world.ts';

/**
 * Non-interference: the same requests of one organisation, against two stores that differ only
 * in what other organisations did, get the same answers (statuses, headers, bodies), once server
 * ids, times and request ids are normalised. Run as a sending practice, a receiving service and a
 * directory client, on the embedded store and on the fake of a real Medplum.
 */

/** Every fake Medplum made so far, each at its own host, served for the rest of the file. */
const handlers: ReturnType<typeof medplumHandlers> = [];
function fakeFor(name: string) {
  const fake = fakeMedplum(`https://medplum-${name}.test/`);
  handlers.push(...medplumHandlers(fake));
  server.use(...handlers);
  return fake;
}
beforeEach(() => {
  server.use(...handlers);
});

const GENERATED = Number(process.env.DIFFERENTIAL_SEQUENCES ?? 12);
const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 20261207);
const P0 = PEOPLE[0] as (typeof PEOPLE)[number];
const fhir = (body: unknown) => ({
  method: 'POST',
  path: '/fhir',
  headers: { 'content-type': 'application/fhir+json' },
  body,
});

describe.each<StoreKind>(['embedded', 'fake'])('on the %s store', (kind) => {
  describe('as a sending practice', () => {
    let pair: WorldPair;
    beforeAll(async () => {
      pair = await worldPair('gp', kind, fakeFor);
    }, 60_000);

    it('a referral of a person others have on record answers as for a new one, and so does reading it', async () => {
      // Made-up details for a number others referred (busy) or nobody did (quiet).
      const sent = await same(pair, () =>
        fhir(referralBundle({ sender: 'B99901', receiver: 'SPX01', person: otherDetails(P0), id: 'G-100' })),
      );
      expect(sent.status).toBe(200);
      const patient = await same(pair, (world) => ({
        path: `/fhir/Patient/${idFor(world, CLIENT.gp, 'Patient', 0, 'own')}`,
      }));
      expect(patient.status).toBe(200);
      expect((patient.body as Patient).birthDate).toBe('1990-01-01');
      await same(pair, (world) => ({
        path: `/fhir/ServiceRequest?_id=${idFor(world, CLIENT.gp, 'ServiceRequest', 0, 'own')}&_include=ServiceRequest:patient`,
      }));
      await same(pair, (world) => ({
        path: `/fhir/Patient/${idFor(world, CLIENT.gp, 'Patient', 0, 'own')}/_history`,
      }));
      // The right details, and the same identifiers the others used.
      await same(pair, () =>
        fhir(referralBundle({ sender: 'B99901', receiver: 'HSP01', person: P0, id: 'R-1' })),
      );
      await same(pair, () => jsonReferral({ receiver: 'SPX01', person: P0, id: 'WEB-1' }));
    });

    it('naming a person by NHS number finds only its own record', async () => {
      const other = PEOPLE[3] as (typeof PEOPLE)[number];
      const refused = await same(pair, () =>
        namedPersonReferral({ nhs: other.nhs, id: 'N-9', receiver: 'SPX01' }),
      );
      expect(refused.status).toBe(422);
      await same(pair, () => namedPersonReferral({ nhs: P0.nhs, id: 'N-10', receiver: 'SPX01' }));
    });

    it('others’ ids, labels and audit are out of reach', async () => {
      for (const type of ['Patient', 'ServiceRequest', 'Task', 'CarePlan', 'AuditEvent']) {
        const answer = await same(pair, (world) => ({
          path: `/fhir/${type}/${idFor(world, CLIENT.gp, type, 0, 'others')}`,
        }));
        expect(answer.status).toBe(404);
      }
      expect((await same(pair, () => ({ path: '/fhir/Patient?_sort=_security' }))).status).toBe(400);
      await same(pair, () => ({
        path: `/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|${P0.nhs}&_revinclude=ServiceRequest:subject`,
      }));
      const audit = await same(pair, () => ({ path: '/fhir/AuditEvent?_count=100' }));
      expect(audit.status).toBe(200);
      expect(((audit.body as Bundle).entry ?? []).length).toBeGreaterThan(0);
    });

    it(`${GENERATED} generated sequences of its requests`, async () => {
      const stats = await runGenerated(pair, { sequences: GENERATED, seed: SEED });
      expect(stats.differences).toBe(0);
    }, 120_000);
  });

  describe('as the receiving service', () => {
    let pair: WorldPair;
    beforeAll(async () => {
      pair = await worldPair('sp', kind, fakeFor);
    }, 60_000);

    it('reads the person as the referrals it received describe them, history included', async () => {
      const found = await same(pair, () => ({
        path: '/fhir/ServiceRequest?_include=ServiceRequest:patient&_revinclude=Task:focus',
      }));
      expect(((found.body as Bundle).entry ?? []).length).toBeGreaterThan(0);
      for (const k of [0, 1]) {
        const read = await same(pair, (world) => ({
          path: `/fhir/Patient/${idFor(world, CLIENT.sp, 'Patient', k, 'own')}`,
        }));
        expect(read.status).toBe(200);
        await same(pair, (world) => ({
          path: `/fhir/Patient/${idFor(world, CLIENT.sp, 'Patient', k, 'own')}/_history`,
        }));
        await same(pair, (world) => ({
          path: `/fhir/Patient/${idFor(world, CLIENT.sp, 'Patient', k, 'own')}/$social-prescribing-summary`,
        }));
      }
    });

    it('works a referral and answers alike', async () => {
      const accept = await same(pair, (world) => ({
        method: 'POST',
        path: `/referrals/${idFor(world, CLIENT.sp, 'ServiceRequest', 0, 'own')}/$accept`,
        headers: { 'content-type': 'application/json' },
        body: { businessStatus: 'contacted' },
      }));
      expect(accept.status).toBe(200);
      await same(pair, (world) => ({
        method: 'POST',
        path: `/referrals/${idFor(world, CLIENT.sp, 'ServiceRequest', 0, 'others')}/$accept`,
        headers: { 'content-type': 'application/json' },
        body: {},
      }));
    });

    it(`${GENERATED} generated sequences of its requests`, async () => {
      const stats = await runGenerated(pair, { sequences: GENERATED, seed: SEED + 1 });
      expect(stats.differences).toBe(0);
    }, 120_000);
  });

  describe('as the practice’s auditor', () => {
    let pair: WorldPair;
    beforeAll(async () => {
      pair = await worldPair('auditor', kind, fakeFor);
    }, 60_000);

    it('reads its own organisation’s trail, whatever others did', async () => {
      const trail = await same(pair, () => ({ path: '/fhir/AuditEvent?_count=100' }));
      expect(trail.status).toBe(200);
      expect(((trail.body as Bundle).entry ?? []).length).toBeGreaterThan(0);
      for (const k of [0, 1, 2]) {
        const theirs = await same(pair, (world) => ({
          path: `/fhir/AuditEvent/${idFor(world, CLIENT.gpAudit, 'AuditEvent', k, 'others')}`,
        }));
        expect(theirs.status).toBe(404);
      }
      await same(pair, () => ({
        path: '/fhir/AuditEvent?agent:identifier=https://fhir.nhs.uk/Id/ods-organization-code|B99902',
      }));
    });

    it(`${GENERATED} generated sequences of its requests`, async () => {
      const stats = await runGenerated(pair, { sequences: GENERATED, seed: SEED + 3 });
      expect(stats.differences).toBe(0);
    }, 120_000);
  });

  describe('as a directory client', () => {
    let pair: WorldPair;
    beforeAll(async () => {
      pair = await worldPair('directory', kind, fakeFor);
    }, 60_000);

    it(`${GENERATED} generated sequences of its requests`, async () => {
      await same(pair, () => ({ path: '/fhir/HealthcareService?_include=HealthcareService:providedBy' }));
      const stats = await runGenerated(pair, { sequences: GENERATED, seed: SEED + 2 });
      expect(stats.differences).toBe(0);
    }, 120_000);
  });

  describe('as a member of people’s care teams', () => {
    let pair: WorldPair;
    beforeAll(async () => {
      pair = await worldPair('team', kind, fakeFor);
    }, 60_000);

    const plans = () =>
      same(pair, () => ({
        path: '/fhir/CarePlan?_include=CarePlan:goal&_include=CarePlan:care-team&_include=CarePlan:subject',
      }));
    const parts = ['CarePlan', 'Goal', 'CareTeam', 'Patient'];

    it('sees the parts of the plan shared with it, and nothing of others’ plans or teams', async () => {
      const found = await plans();
      expect(found.status).toBe(200);
      expect(((found.body as Bundle).entry ?? []).map((e) => e.resource?.resourceType).sort()).toEqual([
        'CarePlan',
        'CareTeam',
        'Goal',
        'Patient',
      ]);
      for (const type of parts) {
        const read = await same(pair, (world) => ({
          path: `/fhir/${type}/${idFor(world, CLIENT.nurse, type, 0, 'own')}`,
        }));
        expect(read.status, type).toBe(200);
        await same(pair, (world) => ({
          path: `/fhir/${type}/${idFor(world, CLIENT.nurse, type, 0, 'own')}/_history`,
        }));
      }
      for (const type of ['Patient', 'ServiceRequest', 'Task', 'CarePlan', 'CareTeam', 'Consent', 'Goal']) {
        const theirs = await same(pair, (world) => ({
          path: `/fhir/${type}/${idFor(world, CLIENT.nurse, type, 0, 'others')}`,
        }));
        expect(theirs.status, type).toBe(404);
      }
      const listed = await same(pair, () => ({ path: '/care-team/meeting-list?since=2000-01-01T00:00:00Z' }));
      expect((listed.body as { people: unknown[] }).people).toHaveLength(1);
      await same(pair, () => ({ path: '/fhir/CarePlan/$meeting-list?since=2000-01-01T00:00:00Z' }));
      await same(pair, () => ({ path: '/fhir/Consent' }));
      await same(pair, () => ({ path: '/fhir/Task' }));
    });

    it('sees nothing of it once the person withdraws, in both worlds alike', async () => {
      await plans();
      for (const world of [pair.quiet, pair.busy]) {
        const referral = await world.send(CLIENT.sp, {
          path: '/fhir/ServiceRequest?identifier=https://fhir.riverside-medical.example/referrals|BASE-1',
        });
        const id = ((referral.body as Bundle).entry ?? [])[0]?.resource?.id;
        const withdrawn = await world.send(CLIENT.sp, {
          method: 'POST',
          path: `/referrals/${id}/care-team/consent`,
          headers: { 'content-type': 'application/json' },
          body: { decision: 'withdraw' },
        });
        expect(withdrawn.status).toBe(200);
      }
      for (const type of parts) {
        const read = await same(pair, (world) => ({
          path: `/fhir/${type}/${idFor(world, CLIENT.nurse, type, 0, 'own')}`,
        }));
        expect(read.status, type).toBe(404);
      }
      expect(((await plans()).body as Bundle).entry ?? []).toEqual([]);
      const listed = await same(pair, () => ({ path: '/care-team/meeting-list?since=2000-01-01T00:00:00Z' }));
      expect((listed.body as { people: unknown[] }).people).toEqual([]);
    });

    it(`${GENERATED} generated sequences of its requests`, async () => {
      const stats = await runGenerated(pair, { sequences: GENERATED, seed: SEED + 4 });
      expect(stats.differences).toBe(0);
    }, 120_000);
  });
});
