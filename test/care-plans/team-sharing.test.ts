import type { AuditEvent, Bundle, CarePlan, CareTeam, Consent, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { seedDirectory } from '../../scripts/seed-lib.ts';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { createMedplumClient, createMedplumStore, type FhirStore } from '../../src/medplum/store.ts';
import { NURSING, planWithTeam, planWithTeamOn, type Team } from '../support/care-team.ts';
import { postJson, referred } from '../support/journey.ts';
import { FAKE_MEDPLUM_CLIENT, fakeMedplum, medplumHandlers } from '../support/medplum-handlers.ts';
import { server } from '../support/msw.ts';
import { exampleBody } from '../support/referrals.ts';
import { settleAudits } from '../support/remote-medplum.ts';
import { AUDITOR, CLIENTS_JSON } from '../support/secured.ts';

// The single care plan shared with the person's care team on their consent: a district nursing
// team (RDN01) named in the plan's team reads the plan's parts once the person agrees, nothing
// else, and nothing at all once they withdraw.

/** What the nurse gets for each part of the plan, and for what is not shared. */
async function nurseSees(t: Team): Promise<Record<string, number>> {
  const get = async (path: string) => (await t.s.as(t.nurse, path)).status;
  return {
    plan: await get(`/fhir/CarePlan/${t.planId}`),
    goal: await get(`/fhir/Goal/${t.goalIds[0]}`),
    team: await get(`/fhir/CareTeam/${t.teamId}`),
    task: await get(`/fhir/Task/${t.taskId}`),
    patient: await get(`/fhir/Patient/${t.patientId}`),
    referral: await get(`/fhir/ServiceRequest/${t.srId}`),
  };
}

const count = async (t: Team, token: string, path: string) =>
  ((await (await t.s.as(token, path)).json()) as Bundle).entry?.length ?? 0;

const SHARED = { plan: 200, goal: 200, team: 200, task: 200, patient: 200, referral: 404 };
const NOT_SHARED = { plan: 404, goal: 404, team: 404, task: 404, patient: 404, referral: 404 };

describe('a care plan shared with the care team on the person’s consent', () => {
  it('is seen by a team organisation only while the consent is in force, and only its parts', async () => {
    const t = await planWithTeam();
    expect(await nurseSees(t)).toEqual(NOT_SHARED);
    expect(await count(t, t.nurse, '/fhir/CarePlan')).toBe(0);

    const given = await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, {
      decision: 'share',
    });
    expect(given.status).toBe(201);
    const consent = (await given.json()) as { consent: { id: string; status: string }; sharedWith: string[] };
    expect(consent.consent.status).toBe('active');
    expect(consent.sharedWith).toEqual(['RDN01']);

    expect(await nurseSees(t)).toEqual(SHARED);
    expect(await count(t, t.nurse, '/fhir/CarePlan')).toBe(1);
    expect(await count(t, t.nurse, `/fhir/Consent?patient=Patient/${t.patientId}`)).toBe(1);
    // The referral, its consent and who changed what stay the parties'.
    expect(await count(t, t.nurse, '/fhir/ServiceRequest')).toBe(0);
    expect(await count(t, t.nurse, '/fhir/Provenance')).toBe(0);
    // The labels that share it are never shown.
    const plan = (await (await t.s.as(t.nurse, `/fhir/CarePlan/${t.planId}`)).json()) as CarePlan;
    expect(JSON.stringify(plan)).not.toContain(OWN_SYSTEM.careTeamAccess);
    expect(JSON.stringify(plan)).not.toContain('RDN01');

    // Sent again (the same decision at the same time): the same consent, nothing new.
    const again = await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, {
      decision: 'share',
    });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { consent: { id: string } }).consent.id).toBe(consent.consent.id);

    const withdrawn = await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, {
      decision: 'withdraw',
    });
    expect(withdrawn.status).toBe(200);
    expect(((await withdrawn.json()) as { consent: { status: string } }).consent.status).toBe('inactive');
    expect(await nurseSees(t)).toEqual(NOT_SHARED);
    expect(await count(t, t.nurse, '/fhir/CarePlan')).toBe(0);
    expect(await count(t, t.nurse, '/fhir/Consent')).toBe(0);
    // The parties see what they saw.
    expect((await t.s.as(t.gp, `/fhir/CarePlan/${t.planId}`)).status).toBe(200);
    expect((await t.s.as(t.spFull, `/fhir/CarePlan/${t.planId}`)).status).toBe(200);
    // Withdrawn twice: nothing is in force to withdraw.
    const twice = await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, {
      decision: 'withdraw',
    });
    expect(twice.status).toBe(409);
  });

  it('names the consent in the audit record of each disclosure to a team member', async () => {
    const t = await planWithTeam();
    const given = await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, {
      decision: 'share',
    });
    const { consent } = (await given.json()) as { consent: { id: string } };
    const read = await t.s.as(t.nurse, `/fhir/CarePlan/${t.planId}`, {
      headers: { 'x-request-id': 'nurse-reads-plan' },
    });
    expect(read.status).toBe(200);
    const gpRead = await t.s.as(t.gp, `/fhir/CarePlan/${t.planId}`, {
      headers: { 'x-request-id': 'gp-reads-plan' },
    });
    expect(gpRead.status).toBe(200);
    await t.s.audit.flush();
    const auditor = await t.s.token(AUDITOR, 'system/AuditEvent.rs');
    const events = (await (
      await t.s.as(auditor, '/fhir/AuditEvent?_count=100')
    ).json()) as Bundle<AuditEvent>;
    const of = (requestId: string) =>
      events.entry
        ?.map((e) => e.resource as AuditEvent)
        .find((e) => e.entity?.some((x) => x.what?.identifier?.value === requestId));
    const reliedOn = (event: AuditEvent | undefined) =>
      event?.entity?.filter((x) => x.role?.code === '13').map((x) => x.what?.reference);
    expect(reliedOn(of('nurse-reads-plan'))).toEqual([`Consent/${consent.id}`]);
    // A party reads on its own grounds: no consent named.
    expect(reliedOn(of('gp-reads-plan'))).toEqual([]);
  });

  it('shares with an organisation added to the team, and stops at once for one removed', async () => {
    const t = await planWithTeam();
    await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, { decision: 'share' });
    expect((await nurseSees(t)).plan).toBe(200);
    const read = await t.s.as(t.spFull, `/fhir/CareTeam/${t.teamId}`);
    const team = (await read.json()) as CareTeam;
    const without = { ...team, participant: team.participant?.filter((p) => !p.onBehalfOf) };
    const removed = await t.s.as(t.spFull, `/fhir/CareTeam/${t.teamId}`, {
      method: 'PUT',
      body: without,
      headers: { 'if-match': read.headers.get('etag') as string },
    });
    expect(removed.status).toBe(200);
    expect(await nurseSees(t)).toEqual(NOT_SHARED);
    const again = await t.s.as(t.spFull, `/fhir/CareTeam/${t.teamId}`);
    const back = await t.s.as(t.spFull, `/fhir/CareTeam/${t.teamId}`, {
      method: 'PUT',
      body: team,
      headers: { 'if-match': again.headers.get('etag') as string },
    });
    expect(back.status).toBe(200);
    expect(await nurseSees(t)).toEqual(SHARED);
  });

  it('is recorded only by the plan’s keeper; a refusal in FHIR ends sharing in the write that records it', async () => {
    const t = await planWithTeam();
    const shared = await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, {
      decision: 'share',
    });
    const { consent } = (await shared.json()) as { consent: { id: string } };
    const stored = (await (await t.s.as(t.spFull, `/fhir/Consent/${consent.id}`)).json()) as Consent;
    const { id: _id, meta: _meta, ...content } = stored;
    const refusal: Resource = {
      ...content,
      status: 'active',
      dateTime: new Date(Date.parse(stored.dateTime as string) + 60_000).toISOString(),
      provision: { ...stored.provision, type: 'deny' },
    } as Consent;
    // The GP and the team member may not record it.
    const gpTries = await t.s.as(t.gp, '/fhir/Consent', { body: refusal });
    expect([403, 422]).toContain(gpTries.status);
    const nurseTries = await t.s.as(t.nurse, '/fhir/Consent', { body: refusal });
    expect(nurseTries.status).toBe(403);
    expect(await nurseSees(t)).toEqual(SHARED);
    const refused = await t.s.as(t.spFull, '/fhir/Consent', { body: refusal });
    expect(refused.status).toBe(201);
    expect(await nurseSees(t)).toEqual(NOT_SHARED);
  });

  it('puts the person on the meeting list of the team while the consent is in force, with what changed', async () => {
    const t = await planWithTeam();
    const list = async (token: string, since = '2000-01-01T00:00:00Z') => {
      const answer = await t.s.as(token, `/care-team/meeting-list?since=${encodeURIComponent(since)}`);
      expect(answer.status).toBe(200);
      return (
        (await answer.json()) as {
          people: { patient: { id: string; nhsNumber: string }; changes: { what: string }[] }[];
        }
      ).people;
    };
    expect(await list(t.nurse)).toEqual([]);
    await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, { decision: 'share' });
    const listed = await list(t.nurse);
    expect(listed.map((p) => p.patient.id)).toEqual([t.patientId]);
    expect(listed[0]?.patient.nhsNumber).toBe('9990000018');
    expect(listed[0]?.changes.map((c) => c.what).sort()).toEqual(['care-plan', 'goal', 'new-referral']);
    // Nothing changed after a time later than every change.
    const later = await list(t.nurse, '2999-01-01T00:00:00Z');
    expect(later.map((p) => p.changes)).toEqual([[]]);
    // The keeper and the referrer list the person too; as FHIR, a collection of the parts.
    expect((await list(t.spFull)).map((p) => p.patient.id)).toEqual([t.patientId]);
    const fhir = await t.s.as(t.nurse, '/fhir/CarePlan/$meeting-list?since=2000-01-01T00:00:00Z');
    expect(fhir.status).toBe(200);
    const bundle = (await fhir.json()) as Bundle;
    expect(bundle.type).toBe('collection');
    expect(bundle.entry?.map((e) => e.resource?.resourceType).sort()).toEqual([
      'CarePlan',
      'Goal',
      'Patient',
      'Task',
    ]);
    // Withdrawn: off everyone's list at once.
    await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, { decision: 'withdraw' });
    expect(await list(t.nurse)).toEqual([]);
    expect(await list(t.spFull)).toEqual([]);
    // since is required, once, and an instant.
    for (const query of [
      '',
      '?since=yesterday',
      '?since=2026-12-01',
      '?since=2026-12-01T00:00:00Z&since=2026-12-02T00:00:00Z',
      '?sinse=2026-12-01T00:00:00Z',
    ]) {
      expect((await t.s.as(t.nurse, `/care-team/meeting-list${query}`)).status, query).toBe(400);
    }
  });

  it('works the same on the Medplum fake: shared on consent, listed, ended at once on withdrawal', async () => {
    const fake = fakeMedplum('https://team-sharing-fake.test/');
    server.use(...medplumHandlers(fake));
    const store = createMedplumStore(
      createMedplumClient({ baseUrl: fake.baseUrl, ...FAKE_MEDPLUM_CLIENT, timeoutMs: 10_000 }),
    );
    await seedDirectory(store);
    const t = await planWithTeam(store);
    expect(await nurseSees(t)).toEqual(NOT_SHARED);
    const given = await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, {
      decision: 'share',
    });
    expect(given.status).toBe(201);
    expect(await nurseSees(t)).toEqual(SHARED);
    const listed = await t.s.as(t.nurse, '/care-team/meeting-list?since=2000-01-01T00:00:00Z');
    expect(((await listed.json()) as { people: unknown[] }).people).toHaveLength(1);
    await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, { decision: 'withdraw' });
    expect(await nurseSees(t)).toEqual(NOT_SHARED);
    await settleAudits();
  });

  it('is withdrawn in FHIR by PUT with If-Match, with a Provenance; every other change is refused', async () => {
    const t = await planWithTeam();
    const given = await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, {
      decision: 'share',
    });
    const { consent } = (await given.json()) as { consent: { id: string } };
    const read = await t.s.as(t.spFull, `/fhir/Consent/${consent.id}`);
    const stored = (await read.json()) as Consent;
    const etag = read.headers.get('etag') as string;
    const put = (body: unknown, headers: Record<string, string> = { 'if-match': etag }) =>
      t.s.as(t.spFull, `/fhir/Consent/${consent.id}`, { method: 'PUT', body, headers });
    // Without If-Match: 428; another change than the status: 422; sent back as read: 200, nothing changes.
    expect((await put({ ...stored, status: 'inactive' }, {})).status).toBe(428);
    expect((await put({ ...stored, dateTime: '2026-11-19T08:00:00Z' })).status).toBe(422);
    expect((await put(stored)).status).toBe(200);
    expect(await nurseSees(t)).toEqual(SHARED);
    // Not from a team member, whatever its scopes say.
    const nurseTries = await t.s.as(t.nurse, `/fhir/Consent/${consent.id}`, {
      method: 'PUT',
      body: { ...stored, status: 'inactive' },
      headers: { 'if-match': etag },
    });
    expect(nurseTries.status).toBe(403);
    const withdrawn = await put({ ...stored, status: 'inactive' });
    expect(withdrawn.status).toBe(200);
    expect(((await withdrawn.json()) as Consent).status).toBe('inactive');
    expect(await nurseSees(t)).toEqual(NOT_SHARED);
    const provenance = (await (
      await t.s.as(t.spFull, `/fhir/Provenance?target=Consent/${consent.id}`)
    ).json()) as Bundle;
    expect(provenance.entry?.length).toBeGreaterThan(0);
    // Withdrawn stays withdrawn: a new consent is recorded instead.
    const again = await t.s.as(t.spFull, `/fhir/Consent/${consent.id}`);
    const back = await t.s.as(t.spFull, `/fhir/Consent/${consent.id}`, {
      method: 'PUT',
      body: { ...((await again.json()) as Consent), status: 'active' },
      headers: { 'if-match': again.headers.get('etag') as string },
    });
    expect(back.status).toBe(409);
  });

  it('refuses a consent without its one team, for another person, in the future, or naming an unknown organisation', async () => {
    const t = await planWithTeam();
    const base = {
      resourceType: 'Consent',
      status: 'active',
      scope: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }],
      },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: `Patient/${t.patientId}` },
      dateTime: '2026-11-19T12:00:00Z',
      provision: {
        type: 'permit',
        actor: [{ role: { text: 'recipient' }, reference: { reference: `CareTeam/${t.teamId}` } }],
      },
    };
    const post = async (body: unknown) => {
      const answer = await t.s.as(t.spFull, '/fhir/Consent', { body });
      return {
        status: answer.status,
        at: ((await answer.json()) as { issue?: { expression?: string[] }[] }).issue?.[0]?.expression?.[0],
      };
    };
    expect(await post({ ...base, provision: { type: 'permit' } })).toEqual({
      status: 422,
      at: 'Consent.provision.actor',
    });
    expect(await post({ ...base, patient: { reference: `Patient/${t.patientId}x` } })).toMatchObject({
      status: 422,
      at: 'Consent.patient',
    });
    expect(await post({ ...base, dateTime: '2027-01-01T00:00:00Z' })).toEqual({
      status: 422,
      at: 'Consent.dateTime',
    });
    expect(await post({ ...base, status: 'draft' })).toEqual({ status: 422, at: 'Consent.status' });
    const otherTeam = {
      ...base,
      provision: {
        ...base.provision,
        actor: [
          { role: { text: 'r' }, reference: { reference: 'CareTeam/00000000-0000-4000-8000-000000000000' } },
        ],
      },
    };
    expect((await post(otherTeam)).status).toBe(422);
    expect(await nurseSees(t)).toEqual(NOT_SHARED);
    // A team naming an organisation the directory does not hold is not shared with anyone.
    const read = await t.s.as(t.spFull, `/fhir/CareTeam/${t.teamId}`);
    const team = (await read.json()) as CareTeam;
    const unknown = {
      ...team,
      participant: [
        ...(team.participant ?? []),
        {
          member: { display: 'Someone' },
          onBehalfOf: {
            identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'ZZZ99' },
          },
        },
      ],
    };
    const changed = await t.s.as(t.spFull, `/fhir/CareTeam/${t.teamId}`, {
      method: 'PUT',
      body: unknown,
      headers: { 'if-match': read.headers.get('etag') as string },
    });
    expect(changed.status).toBe(422);
    expect((await post(base)).status).toBe(201);
    expect(await nurseSees(t)).toEqual(SHARED);
  });

  it('keeps a plan’s team and goals its own, so a withdrawal always finds the plan', async () => {
    const t = await planWithTeam();
    await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, { decision: 'share' });
    const read = await t.s.as(t.spFull, `/fhir/CarePlan/${t.planId}`);
    const plan = (await read.json()) as CarePlan;
    const put = (body: CarePlan) =>
      t.s.as(t.spFull, `/fhir/CarePlan/${t.planId}`, {
        method: 'PUT',
        body,
        headers: { 'if-match': read.headers.get('etag') as string },
      });
    const { careTeam: _team, ...withoutTeam } = plan;
    for (const changed of [withoutTeam as CarePlan, { ...plan, goal: [] }]) {
      const answer = await put(changed);
      expect(answer.status).toBe(422);
    }
    // A new plan may name no team but the one written with it.
    const other = await t.s.as(t.spFull, '/fhir/CarePlan', {
      body: {
        ...withoutTeam,
        id: undefined,
        meta: undefined,
        careTeam: [{ reference: `CareTeam/${t.teamId}` }],
      },
    });
    expect(other.status).toBe(422);
    const withdrawn = await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, {
      decision: 'withdraw',
    });
    expect(withdrawn.status).toBe(200);
    expect(await nurseSees(t)).toEqual(NOT_SHARED);
  });

  it('lets a team member with write scopes read the plan’s parts but never write them', async () => {
    const registry = JSON.parse(CLIENTS_JSON) as { clients: { clientId: string; scopes: string[] }[] };
    for (const client of registry.clients)
      if (client.clientId === NURSING)
        client.scopes = [
          'system/*.rs',
          'system/CarePlan.u',
          'system/QuestionnaireResponse.c',
          'system/ServiceRequest.c',
        ];
    const r = await referred({ clients: JSON.stringify(registry) });
    const t = { ...(await planWithTeamOn(r)) };
    await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, { decision: 'share' });
    const writer = await t.s.as(t.nurse, `/fhir/CarePlan/${t.planId}`);
    expect(writer.status).toBe(200);
    const nurse = await t.s.token(NURSING, 'system/*.rs system/CarePlan.u system/QuestionnaireResponse.c');
    const plan = (await writer.json()) as CarePlan;
    const updated = await t.s.as(nurse, `/fhir/CarePlan/${t.planId}`, {
      method: 'PUT',
      body: { ...plan, title: 'Changed by the nurses' },
      headers: { 'if-match': writer.headers.get('etag') as string },
    });
    expect(updated.status).toBe(403);
    // A measure as the service records it, sent again by the nurses.
    const recorded = await postJson(t, t.spFull, `/referrals/${t.srId}/outcomes`, {
      measure: 'ons4-personal-wellbeing',
      answers: { 'life-satisfaction': 6, worthwhile: 6, happiness: 5, anxiety: 4 },
    });
    expect(recorded.status).toBe(201);
    const { questionnaireResponse } = (await recorded.json()) as { questionnaireResponse: { id: string } };
    const response = (await (
      await t.s.as(t.spFull, `/fhir/QuestionnaireResponse/${questionnaireResponse.id}`)
    ).json()) as Resource;
    const { id: _qid, meta: _qmeta, ...copy } = response;
    const measured = await t.s.as(nurse, '/fhir/QuestionnaireResponse', { body: copy });
    expect(measured.status).toBe(403);
  });

  it('lists every listed person’s referral status, changed or not, and refuses a since without a time zone', async () => {
    const t = await planWithTeam();
    await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, { decision: 'share' });
    const answer = await t.s.as(t.nurse, '/care-team/meeting-list?since=2999-01-01T00:00:00Z');
    const body = (await answer.json()) as {
      people: { referralStatus?: { status: string }; changes: unknown[] }[];
    };
    expect(body.people).toEqual([
      expect.objectContaining({ referralStatus: { status: 'accepted' }, changes: [] }),
    ]);
    expect((await t.s.as(t.nurse, '/care-team/meeting-list?since=2026-12-01T09:00:00')).status).toBe(400);
  });

  it('leaves no measure shared when the person withdraws while it is being recorded', async () => {
    const inner = createEmbeddedStore({ timeoutMs: 5_000 }).store;
    // The withdrawal is written after the measure copied the plan's sharing, before the measure is.
    let meanwhile: (() => Promise<void>) | undefined;
    const store: FhirStore = {
      ...inner,
      bundle: async (bundle, options) => {
        const measure = bundle.entry?.some(
          (e) => e.request?.method === 'POST' && e.request.url === 'QuestionnaireResponse',
        );
        if (measure && meanwhile) {
          const run = meanwhile;
          meanwhile = undefined;
          await run();
        }
        return inner.bundle(bundle, options);
      },
    };
    const t = await planWithTeam(store);
    await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, { decision: 'share' });
    meanwhile = async () => {
      const withdrawn = await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, {
        decision: 'withdraw',
      });
      expect(withdrawn.status).toBe(200);
    };
    const recorded = await postJson(t, t.spFull, `/referrals/${t.srId}/outcomes`, {
      measure: 'ons4-personal-wellbeing',
      answers: { 'life-satisfaction': 6, worthwhile: 6, happiness: 5, anxiety: 4 },
    });
    expect(recorded.status).toBe(201);
    expect(meanwhile).toBeUndefined();
    const { questionnaireResponse } = (await recorded.json()) as { questionnaireResponse: { id: string } };
    expect((await t.s.as(t.nurse, `/fhir/QuestionnaireResponse/${questionnaireResponse.id}`)).status).toBe(
      404,
    );
    expect(await nurseSees(t)).toEqual(NOT_SHARED);
  });

  it('leaves the person unshared when two of their plans are withdrawn at the same moment', async () => {
    const inner = createEmbeddedStore({ timeoutMs: 5_000 }).store;
    // The second withdrawal is written in full while the first is between its reads and its write.
    let meanwhile: (() => Promise<void>) | undefined;
    let firstPlan = '';
    const store: FhirStore = {
      ...inner,
      bundle: async (bundle, options) => {
        const withdrawing = bundle.entry?.some((e) => e.request?.url === `CarePlan/${firstPlan}`);
        if (withdrawing && meanwhile) {
          const run = meanwhile;
          meanwhile = undefined;
          await run();
        }
        return inner.bundle(bundle, options);
      },
    };
    const t = await planWithTeam(store);
    firstPlan = t.planId;
    // A second referral of the same person, planned with the same team.
    const second = (await (
      await t.s.as(t.gp, '/fhir', {
        body: JSON.parse(
          JSON.stringify(exampleBody('01-gp-transaction-bundle.200')).replaceAll(
            'RMP-2026-000101',
            'RMP-2026-000999',
          ),
        ),
      })
    ).json()) as Bundle;
    const srId2 = second.entry
      ?.map((e) => e.response?.location ?? '')
      .find((l) => l.startsWith('ServiceRequest/'))
      ?.split('/')[1] as string;
    expect((await t.s.as(t.sp, `/referrals/${srId2}/$accept`, { method: 'POST' })).status).toBe(200);
    const planned = await postJson(t, t.spFull, `/referrals/${srId2}/care-plan`, {
      whatMattersToMe: 'Seeing friends',
      author: { name: 'Sam Okoro (link worker)' },
      careTeam: [{ name: 'Jo Patel', role: 'district-nurse', organisation: { odsCode: 'RDN01' } }],
    });
    expect(planned.status).toBe(201);
    for (const sr of [t.srId, srId2]) {
      expect(
        (await postJson(t, t.spFull, `/referrals/${sr}/care-team/consent`, { decision: 'share' })).status,
      ).toBe(201);
    }
    expect((await t.s.as(t.nurse, `/fhir/Patient/${t.patientId}`)).status).toBe(200);
    meanwhile = async () => {
      expect(
        (await postJson(t, t.spFull, `/referrals/${srId2}/care-team/consent`, { decision: 'withdraw' }))
          .status,
      ).toBe(200);
    };
    expect(
      (await postJson(t, t.spFull, `/referrals/${t.srId}/care-team/consent`, { decision: 'withdraw' }))
        .status,
    ).toBe(200);
    expect(meanwhile).toBeUndefined();
    expect((await t.s.as(t.nurse, `/fhir/Patient/${t.patientId}`)).status).toBe(404);
    expect(await nurseSees(t)).toEqual(NOT_SHARED);
  });
});
