import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Bundle, HealthcareService, Patient, ServiceRequest, Task } from '@medplum/fhirtypes';
import smart from 'fhirclient';
import { http } from 'msw';
import { describe, expect, it } from 'vitest';
import { server } from '../support/msw.ts';
import { exampleBody } from '../support/referrals.ts';
import { BASE, GP, SP, securedApp } from '../support/secured.ts';

const DIRECTORY_ADMIN = 'riverside-directory-admin';
const REFERRALS = 'https://fhir.riverside-medical.example/referrals';

// SMART's fhirclient, as a server-side app uses it once it holds an access token (backend
// services): its client over the facade, with its own HTTP (cross-fetch), reaching the app through
// the test network. A transaction, searches with paging and reference resolution, reads, and an
// update and a patch with the If-Match taken from a read (versioning is versioned-update).

/** A resource as fhirclient's update takes it (its own R4 types). */
const asResource = (resource: object) => resource as Parameters<ReturnType<typeof fhirclient>['update']>[0];

/** fhirclient's client for a token: the SMART API of its Node adapter, given the token it would have got. */
function fhirclient(accessToken: string) {
  // No launch or redirect happens here, so the adapter's request and response are never read.
  const api = smart({ url: '/', headers: {} } as IncomingMessage, {} as ServerResponse);
  return api.client({ serverUrl: `${BASE}/fhir`, tokenResponse: { access_token: accessToken } });
}

describe('fhirclient drives a journey', () => {
  it('sends a referral, follows it across pages and references, and edits the directory with If-Match', async () => {
    const s = await securedApp();
    server.use(http.all(`${BASE}/*`, ({ request }) => s.app.fetch(request)));

    const gp = fhirclient(await s.token(GP, 'system/ServiceRequest.crs system/*.rs'));
    expect(await gp.getFhirVersion()).toBe('4.0.1');
    const sent = (await gp.request({
      url: '',
      method: 'POST',
      body: JSON.stringify(exampleBody<Bundle>('01-gp-transaction-bundle.200')),
      headers: { 'content-type': 'application/fhir+json' },
    })) as Bundle;
    expect(sent.type).toBe('transaction-response');

    // A search whose subject fhirclient resolves by reading it, as a viewer would.
    const [found] = (await gp.request(
      `ServiceRequest?identifier=${encodeURIComponent(`${REFERRALS}|RMP-2026-000101`)}`,
      { flat: true, resolveReferences: ['subject'] },
    )) as (ServiceRequest & { subject: Patient })[];
    expect(found?.status).toBe('active');
    expect(found?.subject.resourceType).toBe('Patient');
    expect(found?.subject.identifier?.[0]?.value).toBe('9990000018');

    // Paging: every page followed by its next link, the same as one large page.
    const paged = (await gp.request('Organization?_count=1', { pageLimit: 0, flat: true })) as {
      id: string;
    }[];
    const whole = (await gp.request('Organization?_count=100', { flat: true })) as { id: string }[];
    expect(paged.length).toBeGreaterThan(1);
    expect(paged.map((o) => o.id)).toEqual(whole.map((o) => o.id));

    const sp = fhirclient(await s.token(SP, 'system/*.rs system/Task.rus'));
    const tasks = (await sp.request(`Task?focus=ServiceRequest/${found?.id}`, { flat: true })) as Task[];
    expect(tasks.map((t) => t.status)).toEqual(['requested']);
    // What another organisation may not see is refused as fhirclient reports failures: with the status.
    const other = fhirclient(await s.token(DIRECTORY_ADMIN, 'system/HealthcareService.crus'));
    const refused = await other
      .request(`ServiceRequest/${found?.id}`)
      .catch((err: { status?: number }) => err);
    expect((refused as { status?: number }).status).toBe(403);

    const keeper = fhirclient(await s.token(DIRECTORY_ADMIN, 'system/HealthcareService.crus'));
    const [service] = (await keeper.request('HealthcareService', { flat: true })) as HealthcareService[];
    const read = (await keeper.request(`HealthcareService/${service?.id}`)) as HealthcareService;
    // fhirclient's update sends no If-Match of its own: 428, saying why.
    const unconditional = await keeper
      .update(asResource({ ...read, comment: 'Open Tuesdays' }))
      .catch((err: { status?: number; message?: string }) => err);
    expect((unconditional as { status?: number }).status).toBe(428);
    expect((unconditional as { message?: string }).message).toMatch(/If-Match/);
    const updated = (await keeper.update(asResource({ ...read, comment: 'Open Tuesdays' }), {
      headers: { 'If-Match': `W/"${read.meta?.versionId}"` },
    })) as HealthcareService;
    expect(updated.comment).toBe('Open Tuesdays');
    const patched = (await keeper.patch(
      `HealthcareService/${read.id}`,
      [{ op: 'replace', path: '/comment', value: 'Open Wednesdays' }],
      { headers: { 'If-Match': `W/"${updated.meta?.versionId}"` } },
    )) as HealthcareService;
    expect(patched.comment).toBe('Open Wednesdays');
    // The read's version is stale now: 412.
    const stale = await keeper
      .update(asResource({ ...read, comment: 'Stale' }), {
        headers: { 'If-Match': `W/"${read.meta?.versionId}"` },
      })
      .catch((err: { status?: number }) => err);
    expect((stale as { status?: number }).status).toBe(412);
  });
});
