import { parseSearchRequest } from '@medplum/core';
import { type FhirRepository, MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { EmbeddedRepository } from '../../src/medplum/embedded/repository.ts';

// The same generated data is written, in the same order and at the same (fake) instants, to
// Medplum's MemoryRepository and to the embedded repository; every search must then answer the
// same resources, in the same order, with the same total.

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const REFERRAL = 'https://fhir.riverside-medical.example.org/referral-id';
const BATCH = 'https://example.org/batch';

function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(): { writes: Resource[]; deletes: [string, string][] } {
  const rnd = random(20261123);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
  const writes: Resource[] = [];
  const orgs = Array.from({ length: 6 }, (_, i) => `org-${i}`);
  for (const [i, id] of orgs.entries()) {
    writes.push({
      resourceType: 'Organization',
      id,
      identifier: [{ system: ODS, value: `ODS${i}` }],
      name: `Organisation ${i}`,
    });
  }
  const patients = Array.from({ length: 60 }, (_, i) => `pat-${i}`);
  for (const [i, id] of patients.entries()) {
    writes.push({
      resourceType: 'Patient',
      id,
      identifier: [
        { system: NHS, value: String(9990000000 + i) },
        ...(i % 7 === 0 ? [{ value: `Local-${i}` }] : []),
      ],
      active: i % 5 !== 0,
    });
  }
  const statuses = ['active', 'completed', 'revoked', 'draft'] as const;
  const referrals: string[] = [];
  for (let i = 0; i < 150; i++) {
    const id = `sr-${i}`;
    referrals.push(id);
    writes.push({
      resourceType: 'ServiceRequest',
      id,
      meta: { tag: [{ system: BATCH, code: `b${i % 9}` }] },
      identifier: [{ system: REFERRAL, value: `REF-${i}` }],
      status: pick(statuses),
      intent: 'order',
      subject: { reference: `Patient/${pick(patients)}` },
      requester: { reference: `Organization/${pick(orgs)}` },
      performer: [{ reference: `Organization/${pick(orgs)}` }],
    });
    writes.push({
      resourceType: 'Task',
      id: `task-${i}`,
      status: pick(['requested', 'accepted', 'rejected', 'completed'] as const),
      intent: 'order',
      focus: { reference: `ServiceRequest/${id}` },
      for: { reference: `Patient/${pick(patients)}` },
      owner: { reference: `Organization/${pick(orgs)}` },
    });
    if (i % 3 === 0) {
      writes.push({
        resourceType: 'Provenance',
        id: `prov-${i}`,
        recorded: '2026-11-01T10:00:00Z',
        target: [{ reference: `ServiceRequest/${id}` }, { reference: `Task/task-${i}` }],
        agent: [{ who: { reference: `Organization/${pick(orgs)}` } }],
      });
    }
  }
  // Later versions: some referrals change status, some move to another patient.
  for (let i = 0; i < 40; i++) {
    const id = pick(referrals);
    writes.push({
      resourceType: 'ServiceRequest',
      id,
      identifier: [{ system: REFERRAL, value: `REF-${id.slice(3)}` }],
      status: pick(statuses),
      intent: 'order',
      subject: { reference: `Patient/${pick(patients)}` },
      performer: [{ reference: `Organization/${pick(orgs)}` }],
    });
  }
  const deletes: [string, string][] = [
    ['ServiceRequest', 'sr-3'],
    ['Task', 'task-10'],
    ['Patient', 'pat-59'],
  ];
  return { writes, deletes };
}

const QUERIES: [string, Record<string, string>][] = [
  ['Patient', { identifier: `${NHS}|9990000007` }],
  ['Patient', { identifier: '9990000007' }],
  ['Patient', { identifier: `${NHS}|9990000007,${NHS}|9990000008,nothing` }],
  ['Patient', { identifier: '|Local-14' }],
  ['Patient', { identifier: `${NHS}|` }],
  ['Patient', { identifier: `${ODS}|9990000007` }],
  ['Patient', { active: 'false' }],
  ['Patient', { _id: 'pat-1,pat-2,pat-59,missing' }],
  ['Organization', { identifier: `${ODS}|ODS3` }],
  ['ServiceRequest', { identifier: `${REFERRAL}|REF-10` }],
  ['ServiceRequest', { identifier: `${REFERRAL}|REF-3` }],
  ['ServiceRequest', { subject: 'Patient/pat-4' }],
  ['ServiceRequest', { subject: 'pat-4' }],
  ['ServiceRequest', { patient: 'pat-4' }],
  ['ServiceRequest', { patient: 'Patient/pat-4,Patient/pat-5' }],
  ['ServiceRequest', { performer: 'Organization/org-2', status: 'active' }],
  ['ServiceRequest', { requester: 'Organization/org-1' }],
  ['ServiceRequest', { status: 'active,draft' }],
  ['ServiceRequest', { 'status:not': 'active' }],
  ['ServiceRequest', { _tag: `${BATCH}|b4` }],
  ['ServiceRequest', { _tag: `${BATCH}|b4`, status: 'completed' }],
  ['ServiceRequest', { _lastUpdated: 'ge2026-11-03' }],
  ['ServiceRequest', { _lastUpdated: 'gt2026-11-03T05:00:00Z' }],
  ['ServiceRequest', { _lastUpdated: 'lt2026-11-02' }],
  ['ServiceRequest', { _lastUpdated: 'le2026-11-02T12:00:00Z' }],
  ['ServiceRequest', { _lastUpdated: '2026-11-02' }],
  ['ServiceRequest', { _lastUpdated: 'ne2026-11-02' }],
  ['ServiceRequest', { 'subject:Patient.identifier': `${NHS}|9990000012` }],
  ['ServiceRequest', { status: 'active', _sort: '-_lastUpdated', _count: '5' }],
  ['ServiceRequest', { _sort: 'status', _count: '10', _offset: '20' }],
  ['ServiceRequest', { _count: '7', _offset: '3' }],
  ['ServiceRequest', { subject: 'Patient/pat-8', _include: 'ServiceRequest:patient' }],
  ['ServiceRequest', { identifier: `${REFERRAL}|REF-12`, _revinclude: 'Task:focus' }],
  ['ServiceRequest', {}],
  ['Task', { focus: 'ServiceRequest/sr-12' }],
  ['Task', { owner: 'Organization/org-0', status: 'requested' }],
  ['Task', { patient: 'Patient/pat-9' }],
  ['Task', { subject: 'pat-9' }],
  ['Provenance', { target: 'ServiceRequest/sr-30', _include: 'Provenance:target' }],
  ['Provenance', { target: 'Task/task-30' }],
];

let memory: MemoryRepository;
let embedded: EmbeddedRepository;

beforeAll(async () => {
  indexDefinitions();
  memory = new MemoryRepository();
  embedded = EmbeddedRepository.open();
  const { writes, deletes } = generate();
  vi.useFakeTimers({ toFake: ['Date'] });
  let at = Date.parse('2026-11-01T08:00:00Z');
  try {
    for (const resource of writes) {
      at += 37 * 60_000;
      vi.setSystemTime(at);
      for (const repo of [memory, embedded] as FhirRepository[])
        await repo.updateResource(structuredClone(resource));
    }
    for (const [type, id] of deletes) {
      for (const repo of [memory, embedded] as FhirRepository[]) await repo.deleteResource(type, id);
    }
  } finally {
    vi.useRealTimers();
  }
});

afterAll(() => embedded.close());

const answer = (bundle: Bundle) => ({
  total: bundle.total,
  entries: (bundle.entry ?? []).map(
    (e) => `${e.search?.mode} ${e.resource?.resourceType}/${e.resource?.id} ${e.resource?.meta?.lastUpdated}`,
  ),
});

describe('embedded repository search', () => {
  const cases = QUERIES.map(([type, query]) => {
    const label = `${type}?${Object.entries(query)
      .map(([k, v]) => `${k}=${v}`)
      .join('&')}`;
    return [label, type, query] as const;
  });

  it.each(cases)('answers %s as Medplum’s in-memory repository does', async (_label, type, query) => {
    const expected = answer(await memory.search(parseSearchRequest(type, query)));
    const actual = answer(await embedded.search(parseSearchRequest(type, query)));
    expect(actual).toEqual(expected);
  });

  it('matches identifiers with their case, as Medplum on Postgres does (its in-memory repository ignores case)', async () => {
    const ids = async (type: string, query: Record<string, string>) =>
      ((await embedded.search(parseSearchRequest(type, query))).entry ?? []).map((e) => e.resource?.id);
    expect(await ids('Patient', { identifier: 'Local-14' })).toHaveLength(1);
    expect(await ids('Patient', { identifier: 'local-14' })).toEqual([]);
    expect(await ids('ServiceRequest', { identifier: `${REFERRAL}|REF-10` })).toHaveLength(1);
    expect(await ids('ServiceRequest', { identifier: `${REFERRAL}|ref-10` })).toEqual([]);
    // Medplum's in-memory repository finds both spellings.
    expect(
      (await memory.search(parseSearchRequest('Patient', { identifier: 'local-14' }))).entry,
    ).toHaveLength(1);
  });

  it('found something for most queries, so the comparison is not between two empty answers', async () => {
    let nonEmpty = 0;
    for (const [type, query] of QUERIES) {
      if ((await embedded.search(parseSearchRequest(type, query))).entry?.length) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThanOrEqual(QUERIES.length * 0.8);
  });

  it('orders by the first sort rule, then the next (Medplum’s in-memory repository lets the last win)', async () => {
    const bundle = await embedded.search(
      parseSearchRequest('ServiceRequest', { _sort: 'status,-_lastUpdated', _count: '200' }),
    );
    const rows = (bundle.entry ?? []).map((e) => e.resource as Resource & { status: string });
    const sorted = [...rows].sort(
      (a, b) =>
        a.status.localeCompare(b.status) ||
        (b.meta?.lastUpdated ?? '').localeCompare(a.meta?.lastUpdated ?? ''),
    );
    expect(rows.map((r) => r.id)).toEqual(sorted.map((r) => r.id));
  });

  it('refuses a chained search on a multi-target parameter without a type, as Medplum does', async () => {
    await expect(
      embedded.search(parseSearchRequest('ServiceRequest', { 'subject.identifier': 'x' })),
    ).rejects.toThrow(/Unable to identify next resource type/);
    await expect(
      memory.search(parseSearchRequest('ServiceRequest', { 'subject.identifier': 'x' })),
    ).rejects.toThrow(/Unable to identify next resource type/);
  });
});
