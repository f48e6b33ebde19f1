import { SELF } from 'cloudflare:test';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from './token.ts';

let authorization: string;
beforeAll(async () => {
  authorization = `Bearer ${await tokenFor('riverside-medical-gp-system', 'system/*.rs')}`;
});

describe('the Worker in workerd', () => {
  it('starts and serves the CapabilityStatement', async () => {
    const response = await SELF.fetch('https://facade.test/metadata');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
    const statement = (await response.json()) as {
      resourceType: string;
      rest: { resource: { type: string }[] }[];
    };
    expect(statement.resourceType).toBe('CapabilityStatement');
    expect(statement.rest[0]?.resource.map((r) => r.type)).toContain('ServiceRequest');
  });

  it('exchanges client credentials with Medplum and reads through', async () => {
    const response = await SELF.fetch('https://facade.test/fhir/Patient/p1', {
      headers: { 'x-request-id': 'workerd-read-1', authorization },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe('W/"1"');
    expect(response.headers.get('x-request-id')).toBe('workerd-read-1');
    const patient = (await response.json()) as { id: string };
    expect(patient.id).toBe('p1');
  });

  it('answers errors as OperationOutcomes', async () => {
    const missing = await SELF.fetch('https://facade.test/fhir/Patient/nope', { headers: { authorization } });
    expect(missing.status).toBe(404);
    const outcome = (await missing.json()) as { resourceType: string };
    expect(outcome.resourceType).toBe('OperationOutcome');
    const unknown = await SELF.fetch('https://facade.test/elsewhere');
    expect(unknown.status).toBe(404);
  });

  it('refuses FHIR requests without a token, signing and checking tokens with Web Crypto', async () => {
    const response = await SELF.fetch('https://facade.test/fhir/Patient/p1');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('serves the profiles without a token and validates against them', async () => {
    const profile = await SELF.fetch(
      'https://facade.test/fhir/StructureDefinition/social-prescribing-referral',
    );
    expect(profile.status).toBe(200);
    expect(((await profile.json()) as { differential: unknown }).differential).toBeDefined();
    const outcome = await SELF.fetch('https://facade.test/fhir/Patient/$validate', {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization },
      body: JSON.stringify({
        resourceType: 'Patient',
        identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000019' }],
      }),
    });
    expect(outcome.status).toBe(200);
    const body = (await outcome.json()) as { issue: { expression?: string[] }[] };
    expect(body.issue.flatMap((i) => i.expression ?? [])).toContain('Patient.identifier[0].value');
  });

  it('writes each request’s AuditEvent to Medplum after the response', async () => {
    const requestId = `workerd-audit-${crypto.randomUUID().slice(0, 8)}`;
    const read = await SELF.fetch('https://facade.test/fhir/Patient/p1', {
      headers: { 'x-request-id': requestId, authorization },
    });
    expect(read.status).toBe(200);
    const auditor = `Bearer ${await tokenFor('information-governance-audit', 'system/AuditEvent.rs')}`;
    const requestIdOf = (e: AuditEvent) => e.entity?.[0]?.what?.identifier?.value;
    let recorded: AuditEvent[] = [];
    // Written after the response, by the Worker's consumer of its outbox Queue: asked again until
    // it is there (the Queue delivers in batches, so allow up to 10 s).
    for (let attempt = 0; attempt < 200 && recorded.length === 0; attempt++) {
      if (attempt) await new Promise((resolve) => setTimeout(resolve, 50));
      const found = (await (
        await SELF.fetch('https://facade.test/fhir/AuditEvent', { headers: { authorization: auditor } })
      ).json()) as Bundle<AuditEvent>;
      recorded = (found.entry ?? [])
        .map((e) => e.resource as AuditEvent)
        .filter((e) => requestIdOf(e) === requestId);
    }
    expect(recorded).toHaveLength(1);
    // Medplum's first version (a UUID), written through the outbox: tagged with its record key.
    expect(recorded[0]?.meta?.versionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(recorded[0]?.meta?.tag?.map((t) => t.system)).toContain(
      'https://fhir.social-prescribing.example.org/CodeSystem/audit-record',
    );
    expect(recorded[0]?.agent[0]?.who?.identifier?.value).toBe('riverside-medical-gp-system');
    expect(recorded[0]?.entity?.map((e) => e.what?.reference).filter(Boolean)).toEqual(['Patient/p1']);
    expect(JSON.stringify(recorded)).not.toContain('9000000009');
  });

  it('is healthy and ready against Medplum', async () => {
    expect((await SELF.fetch('https://facade.test/health')).status).toBe(200);
    const ready = await SELF.fetch('https://facade.test/health/ready');
    expect(ready.status).toBe(200);
  });
});
