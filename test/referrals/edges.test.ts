import type { Bundle, Patient, ServiceRequest } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { call } from '../support/app.ts';
import { all, exampleBody, idInAnswer, postBundle, seededApp } from '../support/referrals.ts';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';

function withAuthoredOn(authoredOn: string): Bundle {
  const bundle = exampleBody('01-gp-transaction-bundle.200');
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.resourceType === 'ServiceRequest')
      (entry.resource as ServiceRequest).authoredOn = authoredOn;
  }
  return bundle;
}

describe('referral intake at the edges', () => {
  it('one person, one record: an NHS number sent with spaces is matched and stored as digits', async () => {
    const { app, store } = await seededApp();
    const spaced = exampleBody('01-gp-transaction-bundle.200');
    const patient = spaced.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource as Patient;
    (patient.identifier ?? [])[0] = { system: NHS, value: '999 000 0018' };
    expect((await postBundle(app, spaced)).status).toBe(200);
    const again = exampleBody('01-gp-transaction-bundle.200');
    for (const entry of again.entry ?? []) {
      if (entry.resource?.resourceType === 'ServiceRequest') {
        (entry.resource as ServiceRequest).identifier = [
          { system: 'https://example.org/referrals', value: 'OTHER-1' },
        ];
      }
    }
    expect((await postBundle(app, again)).status).toBe(200);
    const patients = await all<Patient>(store, 'Patient');
    expect(patients).toHaveLength(1);
    expect(patients[0]?.identifier?.find((i) => i.system === NHS)?.value).toBe('9990000018');
  });

  it('a date-only authoredOn is today’s UK date just after midnight in summer time, not the future', async () => {
    // 00:30 on 15 July in London is still 14 July in UTC.
    const { app } = await seededApp({}, { clock: () => new Date('2026-07-14T23:30:00Z') });
    expect((await postBundle(app, withAuthoredOn('2026-07-15'))).status).toBe(200);
    const tomorrow = await postBundle(app, withAuthoredOn('2026-07-16'));
    expect(tomorrow.status).toBe(422);
    expect(JSON.stringify(await tomorrow.json())).toContain('authoredOn is in the future');
  });

  it('a date-only authoredOn a day ahead in winter is the future', async () => {
    const { app } = await seededApp({}, { clock: () => new Date('2026-01-14T23:30:00Z') });
    expect((await postBundle(app, withAuthoredOn('2026-01-15'))).status).toBe(422);
    expect((await postBundle(app, withAuthoredOn('2026-01-14'))).status).toBe(200);
  });

  it('a plain operation whose body is optional takes none: no body, no media type', async () => {
    const { app } = await seededApp();
    const sent = (await (
      await postBundle(app, exampleBody('01-gp-transaction-bundle.200'))
    ).json()) as Bundle;
    const srId = idInAnswer(sent, 'ServiceRequest');
    const accepted = await call(app, `/referrals/${srId}/$accept`, { method: 'POST' });
    expect(accepted.status).toBe(200);
    expect((await accepted.json()).status).toBe('accepted');
    // A body that is there must still say what it is.
    const untyped = await app.request(`http://facade.test/referrals/${srId}/$progress`, {
      method: 'POST',
      body: '{"note":"x"}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(untyped.status).toBe(415);
  });
});

describe('bounded referrals', () => {
  it('refuses a Bundle of more entries than any referral needs, storing nothing', async () => {
    const { app, store } = await seededApp();
    const bundle = exampleBody('01-gp-transaction-bundle.200');
    const condition = {
      resourceType: 'Condition',
      subject: { reference: bundle.entry?.[0]?.fullUrl },
      code: { text: 'x' },
    };
    for (let i = 0; i < 100; i++) {
      bundle.entry?.push({
        fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        resource: condition as never,
        request: { method: 'POST', url: 'Condition' },
      });
    }
    const response = await postBundle(app, bundle);
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain('at most 100 entries');
    expect(await all(store, 'Condition')).toHaveLength(0);
  });
});
