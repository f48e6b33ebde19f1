import type { Bundle, Patient, Provenance, ServiceRequest, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { call, expectOutcome } from '../support/app.ts';
import { all, counts, exampleBody, postBundle, seededApp, withLatency } from '../support/referrals.ts';

const GP_BUNDLE = '01-gp-transaction-bundle.200';

describe('referral intake (POST /fhir)', () => {
  it('stores the referral as ServiceRequest, Task, Consent and Provenance, linked as FHIR expects', async () => {
    const { app, store } = await seededApp();
    const response = await postBundle(app, exampleBody(GP_BUNDLE), { 'x-request-id': 'gp-req-1' });
    expect(response.status).toBe(200);
    const [sr] = await all<ServiceRequest>(store, 'ServiceRequest');
    const [task] = await all<Task>(store, 'Task');
    const [patient] = await all<Patient>(store, 'Patient');
    const [spService] = await all(store, 'Organization', {
      identifier: 'https://fhir.nhs.uk/Id/ods-organization-code|SPX01',
    });
    expect(sr).toMatchObject({
      status: 'active',
      intent: 'order',
      subject: { reference: `Patient/${patient?.id}` },
      performer: [{ reference: `Organization/${spService?.id}` }],
      identifier: [{ system: 'https://fhir.riverside-medical.example/referrals', value: 'RMP-2026-000101' }],
    });
    expect(sr?.supportingInfo?.[0]?.reference).toMatch(/^Consent\//);
    expect(sr?.requester?.reference).toMatch(/^PractitionerRole\//);
    expect(task).toMatchObject({
      status: 'requested',
      intent: 'order',
      focus: { reference: `ServiceRequest/${sr?.id}` },
      for: { reference: `Patient/${patient?.id}` },
      owner: { reference: `Organization/${spService?.id}` },
      requester: { reference: sr?.requester?.reference },
    });
    const [provenance] = await all<Provenance>(store, 'Provenance');
    const targets = provenance?.target.map((t) => t.reference);
    expect(targets).toContain(`ServiceRequest/${sr?.id}`);
    expect(targets).toContain(`Task/${task?.id}`);
    expect(provenance?.entity?.[0]?.what.identifier?.value).toBe('gp-req-1');
    expect(provenance?.agent[0]?.who.reference).toBe(sr?.requester?.reference);
  });

  it('answers with a transaction-response: status, Location and ETag per entry, in order', async () => {
    const { app } = await seededApp();
    const bundle = (await (await postBundle(app, exampleBody(GP_BUNDLE))).json()) as Bundle;
    const sent = exampleBody(GP_BUNDLE).entry ?? [];
    expect(bundle.entry).toHaveLength(sent.length);
    bundle.entry?.forEach((entry, i) => {
      // The person is the sender's own record: answered as every other entry is.
      const type = sent[i]?.resource?.resourceType;
      expect(entry.response?.location).toMatch(new RegExp(`^${type}/[^/]+/_history/[^/]+$`));
      expect(entry.response?.etag).toMatch(/^W\/"[^"]+"$/);
      expect(entry.resource?.resourceType).toBe(type);
      if (type === 'Patient') expect(entry.response?.status).toBe('201 Created');
      // An entry holding a resource names it by its full URL (FHIR's bdl-8 asks it of every entry).
      expect(entry.fullUrl).toBe(`http://facade.test/fhir/${type}/${entry.resource?.id}`);
    });
    const minimal = (await (
      await postBundle(app, exampleBody(GP_BUNDLE), { prefer: 'return=minimal' })
    ).json()) as Bundle;
    expect(minimal.entry?.every((e) => e.fullUrl === undefined && e.resource === undefined)).toBe(true);
  });

  it('honours Prefer: return=minimal and return=OperationOutcome', async () => {
    const { app } = await seededApp();
    const minimal = (await (
      await postBundle(app, exampleBody(GP_BUNDLE), { prefer: 'return=minimal' })
    ).json()) as Bundle;
    expect(minimal.entry?.every((e) => e.resource === undefined && e.response?.location)).toBe(true);
    const outcome = (await (
      await postBundle(app, exampleBody('02-several-reasons-with-wellbeing-baseline.200'), {
        prefer: 'return=OperationOutcome',
      })
    ).json()) as Bundle;
    expect(
      outcome.entry?.every(
        (e) => e.resource === undefined && e.response?.outcome?.resourceType === 'OperationOutcome',
      ),
    ).toBe(true);
  });

  it('answers a retry with the stored resources (same ids) and stores nothing new', async () => {
    const { app, store } = await seededApp();
    const first = (await (await postBundle(app, exampleBody(GP_BUNDLE))).json()) as Bundle;
    const before = await counts(store);
    const again = await postBundle(app, exampleBody(GP_BUNDLE));
    expect(again.status).toBe(200);
    const second = (await again.json()) as Bundle;
    expect(second.entry?.map((e) => e.response?.location?.split('/_history')[0])).toEqual(
      first.entry?.map((e) => e.response?.location?.split('/_history')[0]),
    );
    expect(second.entry?.every((e) => e.response?.status === '200 OK')).toBe(true);
    expect(await counts(store)).toEqual(before);
  });

  it('refuses the same identifier with different content (409 duplicate) and changes nothing', async () => {
    const { app, store } = await seededApp();
    await postBundle(app, exampleBody(GP_BUNDLE));
    const before = await counts(store);
    const changed = exampleBody(GP_BUNDLE);
    const sr = changed.entry?.[6]?.resource as ServiceRequest;
    sr.priority = 'urgent';
    await expectOutcome(await postBundle(app, changed), 409, 'duplicate');
    expect(await counts(store)).toEqual(before);
  });

  it('stores one referral, one Patient and one Task for 20 identical concurrent posts', async () => {
    const { app, store } = await seededApp(
      {},
      { store: withLatency(createEmbeddedStore({ timeoutMs: 5_000 }).store) },
    );
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => postBundle(app, exampleBody(GP_BUNDLE))),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const stored = await counts(store);
    expect(stored).toMatchObject({
      ServiceRequest: 1,
      Task: 1,
      Patient: 1,
      Consent: 1,
      Provenance: 1,
      Practitioner: 1,
    });
  });

  it('creates one Patient when different referrals for the same new person arrive together', async () => {
    const { app, store } = await seededApp(
      {},
      { store: withLatency(createEmbeddedStore({ timeoutMs: 5_000 }).store) },
    );
    const a = exampleBody(GP_BUNDLE);
    const b = exampleBody('03-existing-patient-referred-again.200');
    const [ra, rb] = await Promise.all([postBundle(app, a), postBundle(app, b)]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    expect((await counts(store)).Patient).toBe(1);
    expect((await counts(store)).ServiceRequest).toBe(2);
  });

  it('adds only missing demographics to the sender’s stored Patient, keeping what it recorded', async () => {
    const { app, store } = await seededApp();
    await postBundle(app, exampleBody(GP_BUNDLE));
    const again = exampleBody('03-existing-patient-referred-again.200');
    const patient = again.entry?.[0]?.resource as Patient;
    patient.name = [{ family: 'Okafor-Brown', given: ['Grace'] }];
    const response = (await (await postBundle(app, again)).json()) as Bundle;
    const [stored] = await all<Patient>(store, 'Patient');
    expect(stored?.name?.[0]?.family).toBe('Okafor');
    expect(stored?.telecom?.[0]?.value).toBe('07700 900123');
    expect(await all<Patient>(store, 'Patient')).toHaveLength(1);
    // The record is the sender's own: shown in the answer, and no warning about its own data.
    expect(response.entry?.[0]?.resource?.id).toBe(stored?.id);
    expect(response.entry?.[0]?.response?.outcome).toBeUndefined();
  });

  it('collects every problem in one OperationOutcome and stores nothing', async () => {
    const { app, store } = await seededApp();
    const before = await counts(store);
    const bad = exampleBody('10-bad-nhs-number.422');
    const sr = bad.entry?.[6]?.resource as ServiceRequest;
    sr.authoredOn = '2099-01-01T00:00:00Z';
    sr.reasonCode = [];
    delete sr.code;
    const outcome = await expectOutcome(await postBundle(app, bad), 422);
    const expressions = outcome.issue.flatMap((i: { expression?: string[] }) => i.expression ?? []);
    expect(expressions).toEqual(
      expect.arrayContaining([
        'Bundle.entry[0].resource.identifier[0].value',
        'Bundle.entry[6].resource.authoredOn',
        'Bundle.entry[6].resource.reasonCode',
        'Bundle.entry[6].resource.code',
      ]),
    );
    expect(await counts(store)).toEqual(before);
  });

  it('answers 400 with every structural problem when base FHIR R4 is broken', async () => {
    const { app } = await seededApp();
    const bad = exampleBody(GP_BUNDLE);
    const sr = bad.entry?.[6]?.resource as ServiceRequest & Record<string, unknown>;
    delete (sr as Partial<ServiceRequest>).subject;
    sr.colour = 'blue';
    const outcome = await expectOutcome(await postBundle(app, bad), 400);
    const expressions = outcome.issue.flatMap((i: { expression?: string[] }) => i.expression ?? []);
    expect(expressions).toEqual(
      expect.arrayContaining(['Bundle.entry[6].resource.subject', 'Bundle.entry[6].resource.colour']),
    );
  });

  it('refuses batch Bundles, non-POST entries and references to entries not in the Bundle', async () => {
    const { app } = await seededApp();
    await expectOutcome(
      await postBundle(app, { ...exampleBody<Bundle>(GP_BUNDLE), type: 'batch' }),
      400,
      'not-supported',
    );
    const put = exampleBody(GP_BUNDLE);
    if (put.entry?.[0]?.request) put.entry[0].request.method = 'PUT';
    await expectOutcome(await postBundle(app, put), 400, 'not-supported');
    const dangling = exampleBody(GP_BUNDLE);
    (dangling.entry?.[6]?.resource as ServiceRequest).requester = {
      reference: 'urn:uuid:6a1f0c3e-0000-4000-8000-999999999999',
    };
    const outcome = await expectOutcome(await postBundle(app, dangling), 422, 'not-found');
    expect(outcome.issue[0].expression).toEqual(['Bundle.entry[6].resource.requester']);
  });

  it('refuses a consent that denies sharing or belongs to someone else', async () => {
    const { app } = await seededApp();
    const deny = exampleBody(GP_BUNDLE);
    const consent = deny.entry?.[5]?.resource as {
      provision: { type: string };
      patient: { reference: string };
    };
    consent.provision.type = 'deny';
    consent.patient.reference = 'urn:uuid:6a1f0c3e-0000-4000-8000-000000000004';
    const outcome = await expectOutcome(await postBundle(app, deny), 422);
    const expressions = outcome.issue.flatMap((i: { expression?: string[] }) => i.expression ?? []);
    expect(expressions).toEqual(
      expect.arrayContaining(['Bundle.entry[5].resource.provision.type', 'Bundle.entry[5].resource.patient']),
    );
  });

  it('returns the original response for a repeated X-Request-ID, and 409 when its body differs', async () => {
    const { app, store } = await seededApp();
    const first = await postBundle(app, exampleBody(GP_BUNDLE), { 'x-request-id': 'same-id-1' });
    const firstBody = await first.text();
    const before = await counts(store);
    const repeat = await postBundle(app, exampleBody(GP_BUNDLE), { 'x-request-id': 'same-id-1' });
    expect(repeat.status).toBe(200);
    expect(await repeat.text()).toBe(firstBody);
    expect(repeat.headers.get('x-request-id')).toBe('same-id-1');
    expect(await counts(store)).toEqual(before);
    const other = await postBundle(app, exampleBody('02-several-reasons-with-wellbeing-baseline.200'), {
      'x-request-id': 'same-id-1',
    });
    await expectOutcome(other, 409, 'duplicate');
    expect(await counts(store)).toEqual(before);
  });

  it('replays a repeated X-Request-ID of a refused request too, without re-checking it', async () => {
    const { app } = await seededApp();
    const bad = exampleBody('10-bad-nhs-number.422');
    const first = await postBundle(app, bad, { 'x-request-id': 'bad-1' });
    const again = await postBundle(app, bad, { 'x-request-id': 'bad-1' });
    expect(again.status).toBe(first.status);
    expect(await again.text()).toBe(await first.text());
  });
});

describe('reading referrals back', () => {
  it('finds referrals by patient, identifier, status and performer, with the patient and task included', async () => {
    const { app, store } = await seededApp();
    await postBundle(app, exampleBody(GP_BUNDLE));
    const [patient] = await all<Patient>(store, 'Patient');
    const [sr] = await all<ServiceRequest>(store, 'ServiceRequest');
    const performer = sr?.performer?.[0]?.reference as string;
    const queries = [
      `patient=Patient/${patient?.id}`,
      'identifier=https://fhir.riverside-medical.example/referrals|RMP-2026-000101',
      'status=active',
      `performer=${performer}`,
    ];
    for (const query of queries) {
      const bundle = (await (
        await call(
          app,
          `/fhir/ServiceRequest?${query}&_include=ServiceRequest:patient&_revinclude=Task:focus`,
        )
      ).json()) as Bundle;
      const types = bundle.entry?.map((e) => `${e.resource?.resourceType}:${e.search?.mode}`);
      expect(types).toEqual(
        expect.arrayContaining(['ServiceRequest:match', 'Patient:include', 'Task:include']),
      );
    }
    const tasks = (await (await call(app, `/fhir/Task?focus=ServiceRequest/${sr?.id}`)).json()) as Bundle;
    expect(tasks.entry?.[0]?.resource).toMatchObject({ resourceType: 'Task', status: 'requested' });
    const patients = (await (
      await call(app, '/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018')
    ).json()) as Bundle;
    expect(patients.entry).toHaveLength(1);
  });
});
