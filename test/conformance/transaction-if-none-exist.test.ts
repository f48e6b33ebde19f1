import type { Bundle, BundleEntry, ServiceRequest } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { expectOutcome } from '../support/app.ts';
import { postJson, referred } from '../support/journey.ts';
import { all, counts, exampleBody } from '../support/referrals.ts';
import { GP, securedApp } from '../support/secured.ts';

// entry.request.ifNoneExist in a transaction Bundle (https://hl7.org/fhir/R4/http.html#trules):
// honoured where it asks for the match intake makes anyway, refused (400) wherever it would be
// ignored, never silently dropped.

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const GP_REFERRALS = 'https://fhir.riverside-medical.example/referrals';

/** The GP's example referral with these conditions on its entries, by resource type. */
function conditional(conditions: Record<string, string>): Bundle {
  const bundle = exampleBody('01-gp-transaction-bundle.200');
  for (const entry of bundle.entry ?? []) {
    const type = entry.resource?.resourceType as string;
    if (conditions[type] !== undefined && entry.request) entry.request.ifNoneExist = conditions[type];
  }
  return bundle;
}

const indexOf = (bundle: Bundle, type: string) =>
  (bundle.entry ?? []).findIndex((e: BundleEntry) => e.resource?.resourceType === type);

async function gp() {
  const s = await securedApp();
  return { s, token: await s.token(GP, 'system/ServiceRequest.crs system/*.rs') };
}

describe('POST /fhir referral Bundle with entry.request.ifNoneExist', () => {
  it('honours the conditions intake meets anyway: people and organisations by identifier, the referral by its own', async () => {
    const { s, token } = await gp();
    const body = conditional({
      Patient: `Patient?identifier=${NHS}|999 000 0018`,
      Organization: `identifier=${ODS}|B99901`,
      ServiceRequest: `identifier=${GP_REFERRALS}|RMP-2026-000101`,
    });
    // The second Organization (the receiving service) has its own ODS code.
    const receiving = body.entry?.filter((e) => e.resource?.resourceType === 'Organization')[1];
    if (receiving?.request) receiving.request.ifNoneExist = `identifier=${ODS}|SPX01`;
    const first = await s.as(token, '/fhir', { body });
    expect(first.status).toBe(200);
    const stored = await counts(s.store);
    const again = await s.as(token, '/fhir', { body });
    expect(again.status).toBe(200);
    const answer = (await again.json()) as Bundle;
    expect(answer.entry?.every((e) => e.response?.status === '200 OK')).toBe(true);
    expect(await counts(s.store)).toEqual(stored);
  });

  it('refuses a condition it would otherwise ignore, naming the entry, and stores nothing', async () => {
    const { s, token } = await gp();
    const before = await counts(s.store);
    const body = conditional({
      ServiceRequest: 'status=active',
      Consent: `patient.identifier=${NHS}|9990000018`,
      Patient: `identifier=${NHS}|9990000026`,
      Practitioner: 'foo=bar',
    });
    const outcome = await expectOutcome(await s.as(token, '/fhir', { body }), 400, 'not-supported');
    const expressions = outcome.issue.flatMap((i: { expression?: string[] }) => i.expression ?? []);
    for (const type of ['ServiceRequest', 'Consent', 'Patient', 'Practitioner']) {
      expect(expressions).toContain(`Bundle.entry[${indexOf(body, type)}].request.ifNoneExist`);
    }
    expect(await counts(s.store)).toEqual(before);
  });

  it('refuses a condition that is not a string', async () => {
    const { s, token } = await gp();
    const body = conditional({});
    const entry = body.entry?.[indexOf(body, 'Patient')];
    (entry?.request as unknown as Record<string, unknown>).ifNoneExist = 42;
    await expectOutcome(await s.as(token, '/fhir', { body }), 400, 'structure');
    expect(await all<ServiceRequest>(s.store, 'ServiceRequest')).toHaveLength(0);
  });
});

describe('POST /fhir care plan Bundle with entry.request.ifNoneExist', () => {
  it('is refused (400) with where to send a conditional care plan; nothing stored', async () => {
    const r = await referred();
    await postJson(r, r.sp, `/referrals/${r.srId}/$accept`);
    const body: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: {
            resourceType: 'CarePlan',
            status: 'active',
            intent: 'plan',
            subject: { reference: `Patient/${r.patientId}` },
            supportingInfo: [{ reference: `ServiceRequest/${r.srId}` }],
          },
          request: { method: 'POST', url: 'CarePlan', ifNoneExist: `patient=Patient/${r.patientId}` },
        },
      ],
    };
    const outcome = await expectOutcome(await r.s.as(r.sp, '/fhir', { body }), 400, 'not-supported');
    expect(outcome.issue[0].expression).toEqual(['Bundle.entry[0].request.ifNoneExist']);
    expect(outcome.issue[0].diagnostics).toContain('If-None-Exist');
    expect(await all(r.s.store, 'CarePlan')).toHaveLength(0);
  });
});
