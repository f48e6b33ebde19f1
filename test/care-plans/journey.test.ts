import type {
  Bundle,
  CarePlan,
  Provenance,
  QuestionnaireResponse,
  Resource,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';
import { postJson, referred } from '../support/journey.ts';

// One referral, walked from acceptance to completion over HTTP; after each step the stored FHIR
// (read straight from the store, not through the facade) is what that step should leave.

describe('a referral’s whole journey, checked in the store at each step', () => {
  it('accept, first conversation, care plan, outcomes, activity done, completion', async () => {
    const r = await referred();
    const store = r.s.store;
    const all = async <T extends Resource>(type: Resource['resourceType'], query: Record<string, string>) =>
      (((await store.search(type, { ...query, _count: '100' })) as Bundle).entry ?? []).map(
        (e) => e.resource as T,
      );
    const task = async () => (await all<Task>('Task', { focus: `ServiceRequest/${r.srId}` }))[0] as Task;
    const referral = async () => (await store.read('ServiceRequest', r.srId)) as ServiceRequest;
    const updates = async (target: string) =>
      (await all<Provenance>('Provenance', { target })).filter(
        (p) => p.activity?.coding?.[0]?.code === 'UPDATE',
      );
    const labelled = (resource: Resource) =>
      (resource.meta?.security ?? [])
        .filter((c) => c.system === OWN_SYSTEM.organisationAccess)
        .map((c) => c.code)
        .sort();
    const step = async (path: string, body: unknown, status: number) => {
      const response = await postJson(r, r.sp, path, body);
      expect(response.status, path).toBe(status);
      return response.json();
    };

    // Sent: requested, the referral active, seen by the referrer and the service.
    const initial = await task();
    expect(initial.status).toBe('requested');
    expect(labelled(initial)).toEqual(['B99901', 'SPX01']);

    await step(`/referrals/${r.srId}/$accept`, { businessStatus: 'contacted' }, 200);
    let current = await task();
    expect([current.status, current.businessStatus?.coding?.[0]?.code]).toEqual(['accepted', 'contacted']);
    expect(current.output?.[0]?.valueCodeableConcept?.coding?.[0]?.code).toBe('871731000000106');
    expect((await referral()).status).toBe('active');
    expect(await updates(`Task/${current.id}`)).toHaveLength(1);

    await step(`/referrals/${r.srId}/$start`, { businessStatus: 'first-conversation-held' }, 200);
    current = await task();
    expect(current.status).toBe('in-progress');
    expect(await updates(`Task/${current.id}`)).toHaveLength(2);

    const plan = await step(
      `/referrals/${r.srId}/care-plan`,
      {
        whatMattersToMe: 'Being useful',
        author: { name: 'Sam' },
        goals: [{ description: 'Volunteer weekly' }],
        activities: [{ category: 'volunteering', description: 'Food bank', status: 'scheduled', goal: 0 }],
        careTeam: [{ name: 'Sam', role: 'link-worker' }],
      },
      201,
    );
    const stored = (await store.read('CarePlan', plan.carePlan.id)) as CarePlan;
    expect(stored.supportingInfo?.[0]?.reference).toBe(`ServiceRequest/${r.srId}`);
    expect(labelled(stored)).toEqual(['B99901', 'SPX01']);
    const created = await all<Provenance>('Provenance', { target: `CarePlan/${stored.id}` });
    expect(created.map((p) => p.activity?.coding?.[0]?.code)).toEqual(['CREATE']);
    expect(created[0]?.target.map((t) => t.reference?.split('/')[0]).sort()).toEqual([
      'CarePlan',
      'CareTeam',
      'Goal',
    ]);

    const answers = { 'life-satisfaction': 4, worthwhile: 4, happiness: 5, anxiety: 6 };
    await step(`/referrals/${r.srId}/outcomes`, { measure: 'ons4-personal-wellbeing', answers }, 201);
    const responses = await all<QuestionnaireResponse>('QuestionnaireResponse', {
      'based-on': `CarePlan/${stored.id}`,
    });
    expect(responses.map((q) => q.subject?.reference)).toEqual([`Patient/${r.patientId}`]);

    const read = await r.s.as(r.sp, `/fhir/CarePlan/${stored.id}`);
    const patched = await r.s.as(r.sp, `/fhir/CarePlan/${stored.id}`, {
      method: 'PATCH',
      body: [{ op: 'replace', path: '/activity/0/detail/status', value: 'completed' }],
      headers: {
        'content-type': 'application/json-patch+json',
        'if-match': read.headers.get('etag') as string,
      },
    });
    expect(patched.status).toBe(200);
    const after = (await store.read('CarePlan', stored.id as string)) as CarePlan;
    expect(after.activity?.[0]?.detail?.status).toBe('completed');
    expect(labelled(after)).toEqual(['B99901', 'SPX01']);
    expect(await updates(`CarePlan/${stored.id}`)).toHaveLength(1);

    await step(`/referrals/${r.srId}/$complete`, { businessStatus: 'connected-to-activity' }, 200);
    current = await task();
    expect(current.status).toBe('completed');
    expect((await referral()).status).toBe('completed');
    const finalUpdates = await updates(`Task/${current.id}`);
    expect(finalUpdates).toHaveLength(3);
    expect(finalUpdates.at(-1)?.target.map((t) => t.reference)).toEqual([
      `Task/${current.id}`,
      `ServiceRequest/${r.srId}`,
    ]);
    const history = (await store.history('Task', current.id as string)) as Bundle;
    expect(history.entry?.map((e) => (e.resource as Task).status)).toEqual([
      'completed',
      'in-progress',
      'accepted',
      'requested',
    ]);
  });
});
