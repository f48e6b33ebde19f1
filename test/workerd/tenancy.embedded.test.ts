import type { AuditEvent, Bundle, ServiceRequest } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import communityReferral from '../../examples/referrals/04-plain-json-referral.201.request.json';
import {
  AUDITOR,
  as,
  auditEventsFor,
  COMMUNITY,
  GP,
  postJson,
  resourcesOf,
  type Sent,
  sendReferral,
  unique,
} from './referrals.ts';
import { tokenFor } from './token.ts';

// Two organisations on one Worker and one store: the GP practice (B99901) and a community centre
// (RCC01, registered here with read and search scopes so that only tenancy keeps it out).

const CLIENT_SYSTEM = 'https://fhir.social-prescribing.example.org/Id/client';
const REQUEST_ID_SYSTEM = 'https://fhir.social-prescribing.example.org/Id/request-id';
const PATIENT_DATA = ['9990000042', 'Bell', 'Joseph', '1952-09-14', 'Mill Lane', '9990000034', 'Rahman'];

let gp: string;
let community: string;
let auditor: string;
let sent: Sent;
let sendRequestId: string;
beforeAll(async () => {
  gp = await tokenFor(GP, 'system/ServiceRequest.crs system/*.rs');
  community = await tokenFor(COMMUNITY, 'system/ServiceRequest.c system/*.rs');
  auditor = await tokenFor(AUDITOR, 'system/AuditEvent.rs');
  sendRequestId = unique('tenancy-send');
  sent = await sendReferral(gp, sendRequestId);
});

const nhsNumber = 'https://fhir.nhs.uk/Id/nhs-number|9990000042';

describe('tenancy between two clients in workerd, against an embedded Medplum', () => {
  it('the community centre cannot read the GP’s referral, its Task or its Patient: 404, as if missing', async () => {
    const missing = '00000000-0000-4000-8000-ffffffffffff';
    const answer = async (path: string) => {
      const response = await as(community, path);
      return { status: response.status, body: await response.text() };
    };
    for (const [type, id, suffix] of [
      ['ServiceRequest', sent.srId, ''],
      ['Task', sent.taskId, ''],
      ['Patient', sent.patientId, ''],
      ['ServiceRequest', sent.srId, '/_history'],
      ['Patient', sent.patientId, '/$social-prescribing-summary'],
    ]) {
      const path = `/fhir/${type}/${id}${suffix}`;
      const hidden = await answer(path);
      expect(hidden.status, path).toBe(404);
      expect(JSON.parse(hidden.body).issue.map((i: { code: string }) => i.code)).toContain('not-found');
      // Word for word what a resource that does not exist gets.
      const absent = await answer(`/fhir/${type}/${missing}${suffix}`);
      expect(hidden.body.replaceAll(id as string, missing), path).toBe(absent.body);
    }
    // The GP reads them all.
    for (const path of [
      `/fhir/ServiceRequest/${sent.srId}`,
      `/fhir/Task/${sent.taskId}`,
      `/fhir/Patient/${sent.patientId}`,
    ]) {
      expect((await as(gp, path)).status, path).toBe(200);
    }
  });

  it('nor finds them by search, directly or through _include and _revinclude', async () => {
    const searches = [
      `/fhir/ServiceRequest?identifier=${encodeURIComponent(sent.identifier)}`,
      `/fhir/ServiceRequest?patient=Patient/${sent.patientId}&_revinclude=Task:focus`,
      `/fhir/Task?focus=ServiceRequest/${sent.srId}&_include=Task:focus&_include=Task:patient`,
      `/fhir/Task?_id=${sent.taskId}`,
      `/fhir/Patient?identifier=${encodeURIComponent(nhsNumber)}`,
      `/fhir/Patient?_id=${sent.patientId}`,
      `/fhir/Consent?patient=Patient/${sent.patientId}`,
      `/fhir/Provenance?target=ServiceRequest/${sent.srId}`,
    ];
    for (const path of searches) {
      const response = await as(community, path);
      expect(response.status, path).toBe(200);
      const bundle = (await response.json()) as Bundle;
      expect(bundle.entry ?? [], path).toEqual([]);
      expect(bundle.total ?? 0, path).toBe(0);
    }
    // The same searches find them for the GP.
    const mine = (await (
      await as(gp, `/fhir/ServiceRequest?identifier=${encodeURIComponent(sent.identifier)}`)
    ).json()) as Bundle;
    expect(resourcesOf<ServiceRequest>(mine, 'ServiceRequest').map((r) => r.id)).toEqual([sent.srId]);
    const patients = (await (await as(gp, `/fhir/Patient?_id=${sent.patientId}`)).json()) as Bundle;
    expect(patients.total).toBe(1);
  });

  it('the community centre sees its own referral, and the GP does not', async () => {
    const body = { ...communityReferral.body, referralId: unique('WEB-2026-0042') };
    const created = await postJson(community, '/referrals', body);
    expect(created.status).toBe(201);
    const own = (await created.json()) as { serviceRequest: { id: string }; patient: { id: string } };
    expect((await as(community, `/fhir/ServiceRequest/${own.serviceRequest.id}`)).status).toBe(200);
    expect((await as(community, `/fhir/Patient/${own.patient.id}`)).status).toBe(200);
    expect((await as(gp, `/fhir/ServiceRequest/${own.serviceRequest.id}`)).status).toBe(404);
    expect((await as(gp, `/fhir/Patient/${own.patient.id}`)).status).toBe(404);
  });

  it('the audit client sees the AuditEvents written in workerd for these requests, with no patient data', async () => {
    // The GP's intake, audited in the same isolate earlier.
    const intake = await auditEventsFor(auditor, `ServiceRequest/${sent.srId}`, sendRequestId);
    const intakeEvent = intake.find((e) => e.entity?.[0]?.what?.identifier?.value === sendRequestId);
    expect(intakeEvent?.subtype?.[0]?.code).toBe('transaction');
    expect(intakeEvent?.outcome).toBe('0');
    expect(intakeEvent?.agent.map((a) => a.who?.identifier?.value)).toEqual([GP, 'B99901']);

    // A refused read by the community centre: recorded as a 404, with who asked.
    const requestId = unique('tenancy-refused');
    const refused = await as(community, `/fhir/Patient/${sent.patientId}`, {
      headers: { 'x-request-id': requestId },
    });
    expect(refused.status).toBe(404);
    expect(refused.headers.get('x-request-id')).toBe(requestId);
    const byRequestId = (events: AuditEvent[]) =>
      events.filter((e) => e.entity?.[0]?.what?.identifier?.value === requestId);
    let recorded: AuditEvent[] = [];
    // Written through the outbox Queue, in batches: allow up to 10 s.
    for (let attempt = 0; attempt < 200 && recorded.length === 0; attempt++) {
      if (attempt) await new Promise((resolve) => setTimeout(resolve, 50));
      const found = (await (
        await as(auditor, '/fhir/AuditEvent?subtype=read&outcome=4&_count=100')
      ).json()) as Bundle;
      recorded = byRequestId(resourcesOf<AuditEvent>(found, 'AuditEvent'));
    }
    expect(recorded).toHaveLength(1);
    const [event] = recorded as [AuditEvent];
    expect(event.entity?.[0]?.what?.identifier?.system).toBe(REQUEST_ID_SYSTEM);
    expect(event.agent[0]?.who?.identifier).toEqual({ system: CLIENT_SYSTEM, value: COMMUNITY });
    expect(event.agent[1]?.who?.identifier?.value).toBe('RCC01');
    expect([event.action, event.outcome, event.outcomeDesc]).toEqual(['R', '4', 'HTTP 404']);

    // References and request ids only.
    const text = JSON.stringify([...intake, ...recorded]);
    for (const patientData of PATIENT_DATA) expect(text).not.toContain(patientData);

    // The trail is for the audit client alone.
    expect((await as(gp, '/fhir/AuditEvent')).status).toBe(403);
    expect((await as(community, '/fhir/AuditEvent')).status).toBe(403);
  });
});
