import type { Bundle, OperationOutcome, Organization } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { call, expectOutcome } from '../support/app.ts';
import { postJson, referred } from '../support/journey.ts';
import { seededApp } from '../support/referrals.ts';

// The headers FHIR gives meaning to, honoured on every route they apply to: `Prefer: return=` on
// every write, `Prefer: handling=` on searches, `If-None-Match` on reads, and the `fhirVersion`
// of `Accept`.

/** A seeded organisation, as read: its path, body and ETag. */
async function anOrganization(app: Awaited<ReturnType<typeof seededApp>>['app']) {
  const found = (await (await call(app, '/fhir/Organization?_count=1')).json()) as Bundle<Organization>;
  const id = found.entry?.[0]?.resource?.id as string;
  const read = await call(app, `/fhir/Organization/${id}`);
  return {
    path: `/fhir/Organization/${id}`,
    resource: (await read.json()) as Organization,
    etag: read.headers.get('etag') as string,
  };
}

describe('Prefer: return= on updates and patches, as on creates', () => {
  it('minimal answers no body, OperationOutcome says what was done, representation (the default) the resource', async () => {
    const { app } = await seededApp();
    const writes = [
      (at: { resource: Organization }) => ({ method: 'PUT', body: at.resource, headers: {} }),
      () => ({
        method: 'PATCH',
        body: [{ op: 'replace', path: '/active', value: true }],
        headers: { 'content-type': 'application/json-patch+json' },
      }),
    ];
    for (const write of writes) {
      const send = async (prefer?: string) => {
        const at = await anOrganization(app);
        const { method, body, headers } = write(at);
        return call(app, at.path, {
          method,
          body,
          headers: { ...headers, 'if-match': at.etag, ...(prefer ? { prefer } : {}) },
        });
      };
      const minimal = await send('return=minimal');
      expect(minimal.status).toBe(200);
      expect(await minimal.text()).toBe('');
      expect(minimal.headers.get('etag')).toMatch(/^W\/"/);
      const outcome = await send('return=OperationOutcome');
      expect(outcome.status).toBe(200);
      const said = (await outcome.json()) as OperationOutcome;
      expect(said.resourceType).toBe('OperationOutcome');
      expect(said.issue?.[0]?.diagnostics).toMatch(/^Updated Organization\/.+ to version /);
      expect(outcome.headers.get('etag')).toMatch(/^W\/"/);
      for (const prefer of ['return=representation', undefined]) {
        const whole = await send(prefer);
        expect(((await whole.json()) as Organization).resourceType).toBe('Organization');
      }
    }
  });
});

describe('Prefer: return= on a care plan posted as a transaction', () => {
  /** A referral accepted, and its care plan with a goal sent as a transaction, preferring `prefer`. */
  async function sendPlan(prefer?: string) {
    const r = await referred();
    await postJson(r, r.sp, `/referrals/${r.srId}/$accept`);
    const subject = { reference: `Patient/${r.patientId}` };
    const goal = 'urn:uuid:6a0b8e8e-0000-4000-8000-00000000000a';
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: goal,
          resource: {
            resourceType: 'Goal',
            lifecycleStatus: 'active',
            description: { text: 'Walk' },
            subject,
          },
          request: { method: 'POST', url: 'Goal' },
        },
        {
          resource: {
            resourceType: 'CarePlan',
            status: 'active',
            intent: 'plan',
            subject,
            supportingInfo: [{ reference: `ServiceRequest/${r.srId}` }],
            goal: [{ reference: goal }],
          },
          request: { method: 'POST', url: 'CarePlan' },
        },
      ],
    };
    const response = await r.s.as(r.sp, '/fhir', { body: bundle, headers: prefer ? { prefer } : {} });
    expect(response.status).toBe(200);
    return (await response.json()) as Bundle;
  }

  it('minimal leaves the resources out, OperationOutcome says what each became, representation shows them', async () => {
    const minimal = await sendPlan('return=minimal');
    expect(minimal.entry?.map((e) => [e.resource, e.response?.outcome])).toEqual([
      [undefined, undefined],
      [undefined, undefined],
    ]);
    expect(minimal.entry?.every((e) => e.response?.location)).toBe(true);
    const outcome = await sendPlan('return=OperationOutcome');
    expect(outcome.entry?.map((e) => e.resource)).toEqual([undefined, undefined]);
    expect(outcome.entry?.map((e) => e.response?.outcome?.issue?.[0]?.diagnostics)).toEqual([
      expect.stringMatching(/^Stored as Goal\//),
      expect.stringMatching(/^Stored as CarePlan\//),
    ]);
    const whole = await sendPlan();
    for (const entry of whole.entry ?? []) {
      const { resourceType, id } = entry.resource as { resourceType: string; id: string };
      expect(entry.fullUrl).toBe(`http://facade.test/fhir/${resourceType}/${id}`);
    }
  });
});

describe('Prefer: handling= on searches', () => {
  it('strict (the default) refuses an unknown parameter; lenient leaves it out, and says so', async () => {
    const { app } = await seededApp();
    await expectOutcome(await call(app, '/fhir/Organization?bogus=1'), 400, 'invalid');
    await expectOutcome(
      await call(app, '/fhir/Organization?bogus=1', { headers: { prefer: 'handling=strict' } }),
      400,
      'invalid',
    );
    const plain = (await (await call(app, '/fhir/Organization')).json()) as Bundle;
    const lenient = await call(app, '/fhir/Organization?bogus=1&name:bogusmod=x', {
      headers: { prefer: 'handling=lenient' },
    });
    expect(lenient.status).toBe(200);
    const bundle = (await lenient.json()) as Bundle;
    expect(bundle.total).toBe(plain.total);
    const note = bundle.entry?.find((e) => e.search?.mode === 'outcome');
    expect(note?.fullUrl).toMatch(/^urn:uuid:/);
    expect((note?.resource as OperationOutcome | undefined)?.issue?.[0]).toMatchObject({
      severity: 'warning',
      code: 'not-supported',
      expression: ['bogus', 'name:bogusmod'],
    });
    // The self link holds what was applied, and nothing that was not.
    const self = bundle.link?.find((l) => l.relation === 'self')?.url as string;
    expect(self).not.toContain('bogus');
    // A malformed value is a mistake, not a parameter unknown here: refused whatever is preferred.
    await expectOutcome(
      await call(app, '/fhir/Organization?_sort=nonsense', { headers: { prefer: 'handling=lenient' } }),
      400,
      'invalid',
    );
    const contract = (await (
      await call(app, '/fhir/ValueSet?name=x', { headers: { prefer: 'handling=lenient' } })
    ).json()) as Bundle;
    expect(contract.entry?.at(-1)?.search?.mode).toBe('outcome');
  });
});

describe('If-None-Match on reads (RFC 9110 section 13.1.2)', () => {
  it('* or a list holding the current ETag answers 304; another ETag the resource', async () => {
    const { app } = await seededApp();
    const { path, etag } = await anOrganization(app);
    for (const ifNoneMatch of ['*', etag, `W/"0", ${etag}`, etag.replace(/^W\//, '')]) {
      const response = await call(app, path, { headers: { 'if-none-match': ifNoneMatch } });
      expect(response.status, ifNoneMatch).toBe(304);
      expect(response.headers.get('etag')).toBe(etag);
    }
    expect((await call(app, path, { headers: { 'if-none-match': 'W/"0"' } })).status).toBe(200);
    expect(
      (await call(app, '/fhir/Organization/no-such-org', { headers: { 'if-none-match': '*' } })).status,
    ).toBe(404);
  });
});

describe('Accept with a fhirVersion (https://hl7.org/fhir/R4/http.html#version-parameter)', () => {
  it('answers R4 to 4.0, and 406 to another version only', async () => {
    const { app } = await seededApp();
    for (const accept of ['application/fhir+json; fhirVersion=4.0', 'application/fhir+json']) {
      expect((await call(app, '/fhir/Organization', { headers: { accept } })).status, accept).toBe(200);
    }
    for (const accept of [
      'application/fhir+json; fhirVersion=3.0',
      'application/fhir+json;fhirVersion=5.0, application/json;fhirVersion=3.0',
    ]) {
      const refused = await expectOutcome(
        await call(app, '/fhir/Organization', { headers: { accept } }),
        406,
        'not-supported',
      );
      expect(refused.issue[0].diagnostics).toMatch(/R4/);
    }
    // A range for R4 among others is answered.
    const either = 'application/fhir+json; fhirVersion=3.0, application/fhir+json; fhirVersion=4.0';
    expect((await call(app, '/metadata', { headers: { accept: either } })).status).toBe(200);
    await expectOutcome(
      await call(app, `/metadata?_format=${encodeURIComponent('application/fhir+json;fhirVersion=3.0')}`),
      406,
    );
  });
});

describe('Content-Type with a fhirVersion', () => {
  it('reads an R4 body, and refuses a body of another version with 415', async () => {
    const { app } = await seededApp();
    const body = { resourceType: 'Organization', name: 'Versioned' };
    for (const type of ['application/fhir+json; fhirVersion=4.0', 'application/fhir+json']) {
      const answer = await call(app, '/fhir/Organization/$validate', {
        body,
        headers: { 'content-type': type },
      });
      expect(answer.status, type).toBe(200);
    }
    await expectOutcome(
      await call(app, '/fhir/Organization/$validate', {
        body,
        headers: { 'content-type': 'application/fhir+json; fhirVersion=3.0' },
      }),
      415,
    );
  });
});
