import { SELF } from 'cloudflare:test';
import type { AuditEvent, Bundle, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { expect } from 'vitest';
import gpSendsReferral from '../../examples/journey/01-gp-sends-referral.200.request.json';

export const FACADE = 'https://facade.test';
export const GP = 'riverside-medical-gp-system';
export const SP = 'riverside-social-prescribing';
export const COMMUNITY = 'riverside-community-connector';
export const AUDITOR = 'information-governance-audit';

/** Calls the Worker with a bearer token; a body other than a string is sent as JSON. */
export function as(
  token: string,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/fhir+json';
  }
  return SELF.fetch(`${FACADE}${path}`, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    ...(body === undefined ? {} : { body }),
  });
}

/** Calls a plain-JSON endpoint (`/referrals/...`). */
export function postJson(
  token: string,
  path: string,
  body: unknown = {},
  headers: Record<string, string> = {},
) {
  return as(token, path, { body, headers: { 'content-type': 'application/json', ...headers } });
}

/**
 * A name no other test uses. The embedded Medplum is one store for every workerd test file, so
 * each test sends its own referral, under its own identifier.
 */
export function unique(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

export interface Sent {
  srId: string;
  taskId: string;
  patientId: string;
  /** The sender's identifier of the referral, `system|value`. */
  identifier: string;
}

/**
 * The GP system sends examples/journey/01 (Joseph Bell), under a referral identifier of its own;
 * answers the ids of what was stored.
 */
export async function sendReferral(gp: string, requestId = unique('send')): Promise<Sent> {
  const bundle = structuredClone(gpSendsReferral.body) as Bundle;
  const serviceRequest = bundle.entry?.find((e) => e.resource?.resourceType === 'ServiceRequest')
    ?.resource as ServiceRequest;
  const id = serviceRequest.identifier?.[0] as { system: string; value: string };
  id.value = unique(id.value);
  const response = await as(gp, '/fhir', { body: bundle, headers: { 'x-request-id': requestId } });
  expect(response.status).toBe(200);
  const sent = (await response.json()) as Bundle;
  const idOf = (type: string) =>
    sent.entry
      ?.map((e) => e.response?.location ?? '')
      .find((l) => l.startsWith(`${type}/`))
      ?.split('/')[1] as string;
  const srId = idOf('ServiceRequest');
  const tasks = (await (await as(gp, `/fhir/Task?focus=ServiceRequest/${srId}`)).json()) as Bundle;
  expect(tasks.entry).toHaveLength(1);
  return {
    srId,
    taskId: tasks.entry?.[0]?.resource?.id as string,
    patientId: idOf('Patient'),
    identifier: `${id.system}|${id.value}`,
  };
}

/** The resources of a Bundle, by type. */
export function resourcesOf<T extends Resource>(bundle: Bundle, type: T['resourceType']): T[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is T => r?.resourceType === type);
}

/**
 * The AuditEvents that name `reference` among what a request touched, once the one for
 * `requestId` is there. Audit records are written after the response, by the Worker's consumer
 * of its outbox Queue, so this asks again, a bounded number of times, until it arrives.
 */
export async function auditEventsFor(
  auditor: string,
  reference: string,
  requestId: string,
): Promise<AuditEvent[]> {
  const requestIdOf = (e: AuditEvent) => e.entity?.[0]?.what?.identifier?.value;
  let events: AuditEvent[] = [];
  // The Queue delivers in batches: allow up to 10 s.
  for (let attempt = 0; attempt < 200; attempt++) {
    const response = await as(auditor, `/fhir/AuditEvent?entity=${reference}&_count=100`);
    expect(response.status).toBe(200);
    events = resourcesOf<AuditEvent>((await response.json()) as Bundle, 'AuditEvent');
    if (events.some((e) => requestIdOf(e) === requestId)) return events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return events;
}
