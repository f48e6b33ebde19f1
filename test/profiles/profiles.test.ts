import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  Bundle,
  CapabilityStatement,
  OperationOutcome,
  Parameters,
  Resource,
  ValueSet,
} from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { call, createTestApp, expectOutcome } from '../support/app.ts';
import { counts } from '../support/referrals.ts';
import { securedApp } from '../support/secured.ts';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const BASE = 'https://fhir.social-prescribing.example.org';
const SCT = 'http://snomed.info/sct';
const clone = <T>(value: T): T => structuredClone(value);

type Violation = [name: string, change: (r: Record<string, unknown>) => void, expressions: string[]];

/** For each profile: a conforming resource and at least three violations, with where each is reported. */
const CASES: { profile: string; valid: Resource; violations: Violation[] }[] = [
  {
    profile: 'social-prescribing-patient',
    valid: {
      resourceType: 'Patient',
      identifier: [{ system: NHS, value: '9990000018' }],
      name: [{ family: 'Okafor', given: ['Grace'] }],
      gender: 'female',
    },
    violations: [
      ['no NHS number', (r) => delete r.identifier, ['Patient.identifier']],
      [
        'a wrong check digit',
        (r) => (((r.identifier as { value: string }[])[0] as { value: string }).value = '9990000019'),
        ['Patient.identifier[0].value'],
      ],
      [
        'not ten digits',
        (r) => (((r.identifier as { value: string }[])[0] as { value: string }).value = '999 000 0018'),
        ['Patient.identifier[0].value'],
      ],
      ['gender outside its required value set', (r) => (r.gender = 'blue'), ['Patient.gender']],
    ],
  },
  {
    profile: 'social-prescribing-organization',
    valid: {
      resourceType: 'Organization',
      name: 'Riverside Medical Practice',
      identifier: [{ system: ODS, value: 'B99901' }],
    },
    violations: [
      ['no name', (r) => delete r.name, ['Organization.name']],
      ['two names', (r) => (r.name = ['Riverside', 'Medical']), ['Organization.name']],
      ['active that is not a boolean', (r) => (r.active = 'yes'), ['Organization.active']],
      ['an element R4 does not have', (r) => (r.colour = 'red'), ['Organization.colour']],
    ],
  },
  {
    profile: 'social-prescribing-consent',
    valid: {
      resourceType: 'Consent',
      status: 'active',
      scope: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }],
      },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
      patient: { reference: 'Patient/1' },
      dateTime: '2026-11-18T10:15:00Z',
    },
    violations: [
      ['not active', (r) => (r.status = 'proposed'), ['Consent.status']],
      ['no patient', (r) => delete r.patient, ['Consent.patient']],
      ['no date', (r) => delete r.dateTime, ['Consent.dateTime']],
      [
        'a patient that is a Practitioner',
        (r) => (r.patient = { reference: 'Practitioner/1' }),
        ['Consent.patient'],
      ],
    ],
  },
  {
    profile: 'social-prescribing-referral',
    valid: {
      resourceType: 'ServiceRequest',
      identifier: [{ system: 'https://fhir.riverside-medical.example/referrals', value: 'R-1' }],
      status: 'active',
      intent: 'order',
      code: { coding: [{ system: SCT, code: '871731000000106' }] },
      subject: { reference: 'Patient/1' },
      requester: { reference: 'PractitionerRole/1' },
      performer: [{ reference: 'Organization/2' }],
      reasonCode: [{ coding: [{ system: SCT, code: '267076002' }] }],
      authoredOn: '2026-11-18T10:20:00Z',
    },
    violations: [
      ['no identifier', (r) => delete r.identifier, ['ServiceRequest.identifier']],
      [
        'another service',
        (r) => (r.code = { coding: [{ system: SCT, code: '306206005' }] }),
        ['ServiceRequest.code'],
      ],
      ['intent plan', (r) => (r.intent = 'plan'), ['ServiceRequest.intent']],
      [
        'a subject that is a Group',
        (r) => (r.subject = { reference: 'Group/1' }),
        ['ServiceRequest.subject'],
      ],
      ['no reason', (r) => delete r.reasonCode, ['ServiceRequest.reasonCode']],
      ['no authoredOn', (r) => delete r.authoredOn, ['ServiceRequest.authoredOn']],
    ],
  },
  {
    profile: 'social-prescribing-referral-task',
    valid: {
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
      focus: { reference: 'ServiceRequest/1' },
      for: { reference: 'Patient/1' },
      authoredOn: '2026-11-18T10:20:00Z',
      requester: { reference: 'PractitionerRole/1' },
      owner: { reference: 'Organization/2' },
    },
    violations: [
      [
        'a status outside the referral states (required binding)',
        (r) => (r.status = 'ready'),
        ['Task.status'],
      ],
      ['no focus', (r) => delete r.focus, ['Task.focus']],
      ['cancelled without a reason', (r) => (r.status = 'cancelled'), ['Task']],
      [
        'another task code',
        (r) =>
          (r.code = { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'approve' }] }),
        ['Task.code'],
      ],
      ['no owner', (r) => delete r.owner, ['Task.owner']],
    ],
  },
  {
    profile: 'social-prescribing-care-plan',
    valid: {
      resourceType: 'CarePlan',
      status: 'active',
      intent: 'plan',
      subject: { reference: 'Patient/1' },
      supportingInfo: [{ reference: 'ServiceRequest/1' }],
      activity: [
        {
          detail: {
            code: {
              coding: [
                { system: `${BASE}/CodeSystem/social-prescribing-activity-category`, code: 'volunteering' },
              ],
            },
            status: 'scheduled',
          },
        },
      ],
    },
    violations: [
      ['intent proposal', (r) => (r.intent = 'proposal'), ['CarePlan.intent']],
      ['no referral named', (r) => (r.supportingInfo = [{ reference: 'Condition/1' }]), ['CarePlan']],
      [
        'an activity category outside the value set (required binding)',
        (r) =>
          ((
            (r.activity as Record<string, Record<string, unknown>>[])[0] as Record<
              string,
              Record<string, unknown>
            >
          ).detail = {
            status: 'scheduled',
            code: {
              coding: [
                { system: `${BASE}/CodeSystem/social-prescribing-activity-category`, code: 'skydiving' },
              ],
            },
          }),
        ['CarePlan.activity[0].detail.code'],
      ],
      [
        'an activity without detail',
        (r) => (r.activity = [{ progress: [{ text: 'x' }] }]),
        ['CarePlan.activity[0].detail'],
      ],
    ],
  },
  {
    profile: 'social-prescribing-goal',
    valid: {
      resourceType: 'Goal',
      lifecycleStatus: 'active',
      description: { text: 'Volunteer weekly' },
      subject: { reference: 'Patient/1' },
    },
    violations: [
      [
        'a description without words',
        (r) => (r.description = { coding: [{ system: SCT, code: '1' }] }),
        ['Goal.description.text'],
      ],
      ['a subject that is a Group', (r) => (r.subject = { reference: 'Group/1' }), ['Goal.subject']],
      [
        'a lifecycle status outside its value set',
        (r) => (r.lifecycleStatus = 'dreaming'),
        ['Goal.lifecycleStatus'],
      ],
    ],
  },
  {
    profile: 'social-prescribing-care-team',
    valid: {
      resourceType: 'CareTeam',
      subject: { reference: 'Patient/1' },
      participant: [
        {
          role: [{ coding: [{ system: `${BASE}/CodeSystem/care-team-role`, code: 'link-worker' }] }],
          member: { display: 'Sam' },
        },
      ],
    },
    violations: [
      [
        'a member without a role',
        (r) => (r.participant = [{ member: { display: 'Sam' } }]),
        ['CareTeam.participant[0].role'],
      ],
      [
        'a role outside the value set',
        (r) =>
          (r.participant = [
            { role: [{ coding: [{ system: `${BASE}/CodeSystem/care-team-role`, code: 'wizard' }] }] },
          ]),
        ['CareTeam.participant[0].role[0]'],
      ],
      ['a status outside its value set', (r) => (r.status = 'brilliant'), ['CareTeam.status']],
    ],
  },
];

const validate = async (app: ReturnType<typeof createTestApp>['app'], resource: Resource) => {
  const response = await call(app, `/fhir/${resource.resourceType}/$validate`, { body: resource });
  expect(response.status).toBe(200);
  return (await response.json()) as OperationOutcome;
};
const errorsAt = (outcome: OperationOutcome) =>
  (outcome.issue ?? []).filter((i) => i.severity === 'error').flatMap((i) => i.expression ?? []);

describe('profiles, through POST /fhir/{type}/$validate', () => {
  const { app, store } = createTestApp();
  for (const { profile, valid, violations } of CASES) {
    describe(profile, () => {
      it('accepts a conforming resource', async () => {
        const outcome = await validate(app, valid);
        expect(errorsAt(outcome)).toEqual([]);
        expect(outcome.issue?.[0]?.diagnostics).toBe('No problems found');
      });
      for (const [name, change, expressions] of violations) {
        it(`refuses ${name}`, async () => {
          const resource = clone(valid) as unknown as Record<string, unknown>;
          change(resource);
          const errors = errorsAt(await validate(app, resource as unknown as Resource));
          for (const expression of expressions) expect(errors).toContain(expression);
        });
      }
    });
  }

  it('stores nothing, and takes Parameters with a named profile; an unknown profile is 400', async () => {
    const before = await counts(store);
    for (const { valid } of CASES) await validate(app, valid);
    expect(await counts(store)).toEqual(before);
    const patient = CASES[0]?.valid as Resource;
    const asParameters: Parameters = {
      resourceType: 'Parameters',
      parameter: [
        { name: 'resource', resource: { ...patient, gender: 'blue' } as unknown as Resource },
        { name: 'profile', valueUri: `${BASE}/StructureDefinition/social-prescribing-patient` },
      ],
    };
    const response = await call(app, '/fhir/Patient/$validate', { body: asParameters });
    expect(errorsAt((await response.json()) as OperationOutcome)).toContain('Patient.gender');
    await expectOutcome(
      await call(app, '/fhir/Patient/$validate?profile=http://example.org/other', { body: patient }),
      400,
      'not-supported',
    );
    await expectOutcome(
      await call(app, '/fhir/Patient/$validate', { body: CASES[1]?.valid }),
      400,
      'invalid',
    );
  });
});

describe('the contract, served', () => {
  it('serves each profile, its value sets and code systems, without a token', async () => {
    const s = await securedApp();
    for (const { profile } of CASES) {
      const sd = await s.app.request(`http://facade.test/fhir/StructureDefinition/${profile}`);
      expect(sd.status).toBe(200);
      expect((await sd.json()).snapshot.element.length).toBeGreaterThan(10);
    }
    for (const path of [
      '/fhir/ValueSet/referral-task-status',
      '/fhir/CodeSystem/referral-business-status',
      `/fhir/ValueSet/$expand?url=${BASE}/ValueSet/social-prescribing-activity-category`,
    ]) {
      expect((await s.app.request(`http://facade.test${path}`)).status).toBe(200);
    }
    expect((await s.app.request('http://facade.test/fhir/StructureDefinition/nothing')).status).toBe(404);
    const validateWithoutToken = await s.app.request('http://facade.test/fhir/Patient/$validate', {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify(CASES[0]?.valid),
    });
    expect(validateWithoutToken.status).toBe(401);
  });

  it('expands a value set and validates codes against it', async () => {
    const { app } = createTestApp();
    const url = `${BASE}/ValueSet/referral-business-status`;
    const expanded = (await (await call(app, `/fhir/ValueSet/$expand?url=${url}`)).json()) as ValueSet;
    expect(expanded.expansion?.contains?.map((c) => c.code)).toContain('declined-by-person');
    expect(expanded.expansion?.total).toBe(expanded.expansion?.contains?.length);
    const result = async (query: string) =>
      (
        (await (await call(app, `/fhir/ValueSet/$validate-code?${query}`)).json()) as Parameters
      ).parameter?.find((p) => p.name === 'result')?.valueBoolean;
    expect(await result(`url=${url}&code=contacted`)).toBe(true);
    expect(await result(`url=${url}&code=teleported`)).toBe(false);
    const posted = await call(app, '/fhir/ValueSet/$validate-code', {
      body: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'url', valueUri: `${BASE}/ValueSet/social-prescribing-referral-reasons` },
          { name: 'coding', valueCoding: { system: SCT, code: '422650009' } },
        ],
      },
    });
    expect(((await posted.json()) as Parameters).parameter?.[0]).toEqual({
      name: 'result',
      valueBoolean: true,
    });
    await expectOutcome(
      await call(app, '/fhir/ValueSet/$expand?url=http://example.org/none'),
      404,
      'not-found',
    );
  });

  it('lists each supported profile in the CapabilityStatement', async () => {
    const { app } = createTestApp();
    const statement = (await (await call(app, '/metadata')).json()) as CapabilityStatement;
    const profiles = statement.rest?.[0]?.resource?.flatMap((r) => r.supportedProfile ?? []) ?? [];
    for (const { profile } of CASES) expect(profiles).toContain(`${BASE}/StructureDefinition/${profile}`);
  });

  it('is what the FSH sources build (npm run build:profiles -- --check)', () => {
    const output = execFileSync(process.execPath, ['scripts/build-profiles.ts', '--check'], {
      cwd: PROJECT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(output).toContain('matches the sources');
  });
});

describe('profiles at intake', () => {
  it('refuses a referral entry against its profile, with the element named, storing nothing', async () => {
    const { exampleBody, seededApp } = await import('../support/referrals.ts');
    const seeded = await seededApp();
    const body = exampleBody<Bundle>('01-gp-transaction-bundle.200');
    const patient = body.entry?.[0]?.resource as unknown as { gender?: string };
    patient.gender = 'blue';
    const before = await counts(seeded.store);
    const outcome = await expectOutcome(await call(seeded.app, '/fhir', { body }), 422, 'code-invalid');
    expect(outcome.issue.flatMap((i: { expression?: string[] }) => i.expression ?? [])).toContain(
      'Bundle.entry[0].resource.gender',
    );
    expect(await counts(seeded.store)).toEqual(before);
  });
});
