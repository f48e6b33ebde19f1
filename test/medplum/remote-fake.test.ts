import type {
  Bundle,
  BundleEntry,
  HealthcareService,
  Organization,
  Patient,
  Resource,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/medplum/errors.ts';
import { createMedplumClient, type FhirStore, searchAll } from '../../src/medplum/store.ts';
import {
  FAKE_MEDPLUM_CLIENT,
  type FakeMedplum,
  fakeMedplum,
  medplumHandlers,
} from '../support/medplum-handlers.ts';
import { server } from '../support/msw.ts';
import { remoteStore } from '../support/remote-medplum.ts';

/**
 * The fake remote Medplum answers the facade's client as Medplum 5.x does: these are the
 * behaviours the remote tests rely on, each checked through the facade's own FhirStore.
 */
function remote(options: { features?: string[] } = {}): { fake: FakeMedplum; store: FhirStore } {
  const fake = fakeMedplum('https://medplum.test/', [], options);
  server.use(...medplumHandlers(fake));
  return { fake, store: remoteStore(fake) };
}

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const ACCESS = 'https://fhir.social-prescribing.example.org/CodeSystem/organisation-access';
const PART = 'https://fhir.social-prescribing.example.org/CodeSystem/referral-part';

const patient = (nhs: string, access = 'B99901'): Patient => ({
  resourceType: 'Patient',
  meta: { security: [{ system: ACCESS, code: access }] },
  identifier: [{ system: NHS, value: nhs }],
});

async function refusal(promise: Promise<unknown>): Promise<StoreError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  return err as StoreError;
}

function transaction(entry: BundleEntry[]): Bundle {
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

describe('the fake Medplum: reads and writes', () => {
  it('gives every create its own id and a UUID version, whatever was sent', async () => {
    const { store } = remote();
    const created = await store.create({ ...patient('9000000009'), id: 'mine', meta: { versionId: '7' } });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.id).not.toBe('mine');
    expect(created.meta?.versionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers 404 not-found, 410 gone once deleted, and 412 for an update against an older version', async () => {
    const { store } = remote();
    const missing = await refusal(store.read('Patient', crypto.randomUUID()));
    expect([missing.upstreamStatus, missing.refusal, missing.outcome.id]).toEqual([
      404,
      'not-found',
      'not-found',
    ]);

    const first = await store.create(patient('9000000009'));
    const second = await store.update(
      { ...first, gender: 'female' },
      { ifMatchVersion: first.meta?.versionId },
    );
    expect(second.meta?.versionId).not.toBe(first.meta?.versionId);
    const stale = await refusal(
      store.update({ ...first, gender: 'male' }, { ifMatchVersion: first.meta?.versionId }),
    );
    expect([stale.upstreamStatus, stale.refusal]).toEqual([412, 'precondition-failed']);

    await store.delete('Patient', first.id as string);
    const gone = await refusal(store.read('Patient', first.id as string));
    expect([gone.upstreamStatus, gone.refusal, gone.outcome.id]).toEqual([410, 'gone', 'gone']);
  });

  it('refuses a resource that is not valid R4 with 400, naming where; codes are not checked', async () => {
    const { store, fake } = remote();
    const invalid = await refusal(store.create({ resourceType: 'Task', intent: 'order' } as Task));
    expect([invalid.upstreamStatus, invalid.refusal]).toEqual([400, 'invalid']);
    expect(invalid.outcome.issue?.[0]?.expression).toEqual(['Task.status']);
    expect(
      (await refusal(store.create({ ...patient('9000000009'), colour: 'blue' } as Patient))).upstreamStatus,
    ).toBe(400);
    expect(fake.resources).toEqual([]);
    // As seen on Medplum 5.1.29: a code outside its value set is stored (../shared/PLATFORM.md §1.4).
    expect(
      (await store.create({ ...patient('9000000009'), gender: 'sometimes' } as unknown as Patient)).id,
    ).toBeDefined();
  });

  it('makes no version for an update that changes nothing', async () => {
    const { store } = remote();
    const created = await store.create(patient('9000000009'));
    const same = await store.update(created, { ifMatchVersion: created.meta?.versionId });
    expect(same.meta?.versionId).toBe(created.meta?.versionId);
  });

  it('lists every version newest first, with its request and response and a total', async () => {
    const { store } = remote();
    const created = await store.create(patient('9000000009'));
    const updated = await store.update({ ...created, gender: 'female' });
    const history = await store.history('Patient', created.id as string);
    expect(history.type).toBe('history');
    expect(history.total).toBe(2);
    expect(history.entry?.map((e) => [e.request?.url, e.response?.status])).toEqual([
      [`Patient/${created.id}/_history/${updated.meta?.versionId}`, '200'],
      [`Patient/${created.id}/_history/${created.meta?.versionId}`, '200'],
    ]);
  });
});

describe('the fake Medplum: batch and transaction Bundles', () => {
  it('answers a batch of searches with a searchset Bundle and a status per entry', async () => {
    const { store } = remote();
    await store.create(patient('9000000009'));
    const [byNhs, none] = await searchAll(store, [
      { type: 'Patient', query: { identifier: `${NHS}|9000000009` } },
      { type: 'Patient', query: { identifier: `${NHS}|9000000017` } },
    ]);
    expect(byNhs?.type).toBe('searchset');
    expect(byNhs?.entry).toHaveLength(1);
    expect(none?.entry).toEqual([]);
  });

  it('resolves urn:uuid references, and answers a conditional create 201 once and 200 after', async () => {
    const { store, fake } = remote();
    const entries = (): BundleEntry[] => [
      {
        fullUrl: 'urn:uuid:6b4b1c2e-0000-4000-8000-000000000001',
        resource: patient('9000000009'),
        request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${NHS}|9000000009` },
      },
      {
        fullUrl: 'urn:uuid:6b4b1c2e-0000-4000-8000-000000000002',
        resource: {
          resourceType: 'ServiceRequest',
          status: 'active',
          intent: 'order',
          subject: { reference: 'urn:uuid:6b4b1c2e-0000-4000-8000-000000000001' },
          meta: { tag: [{ system: PART, code: 'r1-service-request' }] },
        },
        request: { method: 'POST', url: 'ServiceRequest', ifNoneExist: `_tag=${PART}|r1-service-request` },
      },
    ];
    const first = await store.bundle(transaction(entries()));
    expect(first.type).toBe('transaction-response');
    expect(first.entry?.map((e) => e.response?.status)).toEqual(['201', '201']);
    const [patientRef, srRef] = first.entry?.map((e) => e.response?.location) ?? [];
    expect(patientRef).toMatch(/^Patient\/[0-9a-f-]{36}$/);
    expect((first.entry?.[1]?.resource as ServiceRequest | undefined)?.subject?.reference).toBe(patientRef);

    const again = await store.bundle(transaction(entries()));
    expect(again.entry?.map((e) => e.response?.status)).toEqual(['200', '200']);
    expect(again.entry?.map((e) => e.response?.location)).toEqual([patientRef, srRef]);
    expect(fake.resources).toHaveLength(2);
  });

  it('applies a transaction all or nothing: a stale ifMatch undoes the creates before it', async () => {
    const { store, fake } = remote();
    const task = await store.create<Task>({ resourceType: 'Task', status: 'requested', intent: 'order' });
    await store.update({ ...task, status: 'accepted' });
    const err = await refusal(
      store.bundle(
        transaction([
          { resource: patient('9000000009'), request: { method: 'POST', url: 'Patient' } },
          {
            resource: { ...task, status: 'in-progress' },
            request: { method: 'PUT', url: `Task/${task.id}`, ifMatch: `W/"${task.meta?.versionId}"` },
          },
        ]),
      ),
    );
    expect(err.upstreamStatus).toBe(412);
    expect(fake.resources.map((r) => r.resourceType)).toEqual(['Task']);
    expect((fake.resources[0] as Task).status).toBe('accepted');
  });

  it('runs a transaction entry by entry when the project lacks transaction-bundles', async () => {
    const { fake } = remote({ features: [] });
    // Sent past the facade's store, which sends no such write to this project
    // (test/medplum/transaction-feature.test.ts).
    const client = createMedplumClient({ baseUrl: fake.baseUrl, ...FAKE_MEDPLUM_CLIENT, timeoutMs: 2_000 });
    const answer = await client.executeBatch(
      transaction([
        { resource: patient('9000000009'), request: { method: 'POST', url: 'Patient' } },
        {
          resource: { resourceType: 'Task', intent: 'order' } as Task,
          request: { method: 'POST', url: 'Task' },
        },
      ]),
    );
    expect(answer.entry?.map((e) => e.response?.status)).toEqual(['201', '400']);
    expect(fake.resources).toHaveLength(1);
  });

  it('refuses a transaction of more than eight entries that holds a conditional create', async () => {
    const { store } = remote();
    const entries = Array.from({ length: 9 }, (_, i): BundleEntry => {
      const nhs = `90000000${String(i).padStart(2, '0')}`;
      return {
        resource: patient(nhs),
        request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${NHS}|${nhs}` },
      };
    });
    const err = await refusal(store.bundle(transaction(entries)));
    expect(err.outcome.issue?.[0]?.details?.text).toMatch(/too many entries/);
  });
});

describe('the fake Medplum: searches', () => {
  it('gives no total unless asked, and offset links: self, first, next while more match, previous', async () => {
    const { store } = remote();
    for (const nhs of ['9000000009', '9000000017', '9000000025']) await store.create(patient(nhs));
    const first = await store.search('Patient', { _count: '2' });
    expect(first.total).toBeUndefined();
    expect(first.entry?.[0]?.fullUrl).toMatch(/^https:\/\/medplum\.test\/fhir\/R4\/Patient\//);
    expect(first.entry?.[0]?.search?.mode).toBe('match');
    const links = (b: Bundle) => Object.fromEntries((b.link ?? []).map((l) => [l.relation, l.url]));
    expect(links(first)).toEqual({
      self: 'https://medplum.test/fhir/R4/Patient?_count=2',
      first: 'https://medplum.test/fhir/R4/Patient?_count=2',
      next: 'https://medplum.test/fhir/R4/Patient?_count=2&_offset=2',
    });
    const last = await store.search('Patient', { _count: '2', _offset: '2' });
    expect(Object.keys(links(last))).toEqual(['self', 'first', 'previous']);
    const counted = await store.search('Patient', { _count: '0', _total: 'accurate' });
    expect([counted.total, counted.entry]).toEqual([3, undefined]);
  });

  it('matches _security, _tag, _id, identifier alternatives and references', async () => {
    const { store } = remote();
    const one = await store.create(patient('9000000009', 'B99901'));
    const two = await store.create(patient('9000000017', 'SPX01'));
    const task = await store.create<Task>({
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      meta: { tag: [{ system: PART, code: 'r1-task' }] },
      focus: { reference: 'ServiceRequest/sr-1' },
      for: { reference: `Patient/${one.id}` },
    });
    const ids = async (type: Resource['resourceType'], query: Record<string, string>) =>
      ((await store.search(type, query)).entry ?? []).map((e) => e.resource?.id);
    expect(await ids('Patient', { _security: `${ACCESS}|SPX01` })).toEqual([two.id]);
    expect(await ids('Patient', { _id: `${one.id}` })).toEqual([one.id]);
    expect(await ids('Patient', { identifier: `${NHS}|9000000009,${NHS}|9000000017` })).toEqual([
      one.id,
      two.id,
    ]);
    expect(await ids('Task', { _tag: `${PART}|r1-task` })).toEqual([task.id]);
    expect(await ids('Task', { focus: 'ServiceRequest/sr-1' })).toEqual([task.id]);
    expect(await ids('Task', { patient: `Patient/${one.id}` })).toEqual([task.id]);
    expect(await ids('Task', { subject: `Patient/${two.id}` })).toEqual([]);
  });

  it('follows a chain to the organisation by its ODS code, and includes what a match names', async () => {
    const { store } = remote();
    const org = await store.create<Organization>({
      resourceType: 'Organization',
      identifier: [{ system: ODS, value: 'SPX01' }],
    });
    const service = await store.create<HealthcareService>({
      resourceType: 'HealthcareService',
      active: true,
      providedBy: { reference: `Organization/${org.id}` },
    });
    const found = await store.search('HealthcareService', {
      'organization:Organization.identifier': `${ODS}|SPX01`,
      active: 'true',
      _include: 'HealthcareService:organization',
    });
    expect(found.entry?.map((e) => [e.resource?.id, e.search?.mode])).toEqual([
      [service.id, 'match'],
      [org.id, 'include'],
    ]);
    const other = await store.search('HealthcareService', {
      'organization:Organization.identifier': `${ODS}|B99901`,
    });
    expect(other.entry).toEqual([]);
  });
});
