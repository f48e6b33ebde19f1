import { MedplumClient, OperationOutcomeError } from '@medplum/core';
import type { Bundle, HealthcareService, ServiceRequest, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { exampleBody } from '../support/referrals.ts';
import { BASE, GP, SP, securedApp } from '../support/secured.ts';

const DIRECTORY_ADMIN = 'riverside-directory-admin';

// MedplumClient, as a clinical system built on Medplum's SDK would use it, against the facade:
// tokens from the facade, a referral as a transaction, searches, reads, history, and updates with
// the If-Match it gets from a read (the facade requires it: versioning is versioned-update).

describe('MedplumClient drives a journey', () => {
  it('sends a referral, follows it, and edits the directory with If-Match from a read', async () => {
    const s = await securedApp();
    const client = async (clientId: string, scope: string) => {
      const medplum = new MedplumClient({
        baseUrl: `${BASE}/`,
        fhirUrlPath: 'fhir',
        fetch: (url: string | URL | Request, init?: RequestInit) => Promise.resolve(s.app.request(url, init)),
      });
      medplum.setAccessToken(await s.token(clientId, scope));
      return medplum;
    };
    const gp = await client(GP, 'system/ServiceRequest.crs system/*.rs');
    const sent = await gp.executeBatch(exampleBody<Bundle>('01-gp-transaction-bundle.200'));
    expect(sent.type).toBe('transaction-response');
    const referral = await gp.searchOne('ServiceRequest', { identifier: 'RMP-2026-000101' });
    expect(referral?.status).toBe('active');
    const patient = await gp.readReference(referral?.subject as { reference: string });
    expect(patient.resourceType).toBe('Patient');
    const history = await gp.readHistory('ServiceRequest', referral?.id as string);
    expect(history.entry?.[0]?.request?.method).toBe('POST');

    const sp = await client(SP, 'system/*.rs system/Task.rus');
    const tasks = await sp.searchResources('Task', { focus: `ServiceRequest/${referral?.id}` });
    expect(tasks.map((t: Task) => t.status)).toEqual(['requested']);
    const received = await sp.searchResources('ServiceRequest', { _id: referral?.id as string });
    expect(received.map((r: ServiceRequest) => r.id)).toEqual([referral?.id]);

    const keeper = await client(DIRECTORY_ADMIN, 'system/HealthcareService.crus');
    const [service] = await keeper.searchResources('HealthcareService', {});
    const read = (await keeper.readResource('HealthcareService', service?.id as string)) as HealthcareService;
    // Without If-Match, as MedplumClient sends an update by default: 428, saying why.
    const refused = await keeper.updateResource({ ...read, comment: 'Open Tuesdays' }).catch((err) => err);
    expect(refused).toBeInstanceOf(OperationOutcomeError);
    expect(JSON.stringify((refused as OperationOutcomeError).outcome)).toMatch(/If-Match/);
    const etag = `W/"${read.meta?.versionId}"`;
    const updated = await keeper.updateResource(
      { ...read, comment: 'Open Tuesdays' },
      { headers: { 'If-Match': etag } },
    );
    expect(updated.comment).toBe('Open Tuesdays');
    const patched = await keeper.patchResource(
      'HealthcareService',
      read.id as string,
      [{ op: 'replace', path: '/comment', value: 'Open Wednesdays' }],
      { headers: { 'If-Match': `W/"${updated.meta?.versionId}"` } },
    );
    expect(patched.comment).toBe('Open Wednesdays');
    // A stale one: 412.
    const stale = await keeper
      .updateResource({ ...read, comment: 'Stale' }, { headers: { 'If-Match': etag } })
      .catch((err) => err);
    expect(stale).toBeInstanceOf(OperationOutcomeError);
  });
});
