import type { Bundle, Coding, Organization, Patient, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import { parseScope, type Scope } from '../../src/auth/scopes.ts';
import {
  hasAccess,
  isPersonalData,
  isVisible,
  mayShowInAnswer,
  referralAccessToPatient,
  scopedQuery,
  visibleEntries,
  withAccess,
} from '../../src/auth/tenancy.ts';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';

function scopes(...texts: string[]): Scope[] {
  return texts.map((text) => {
    const scope = parseScope(text);
    if (!scope) throw new Error(`${text} should parse`);
    return scope;
  });
}

const GP = 'B99901';
const OTHER_GP = 'B99902';
const SERVICE = 'RCC01';

function principal(organization: string | undefined, ...scopeTexts: string[]): Principal {
  return { clientId: `client-${organization ?? 'open'}`, organization, scopes: scopes(...scopeTexts) };
}

const OPEN = principal(undefined, 'system/*.cruds');
const GP_READER = principal(GP, 'system/*.rs');

const label = (code: string): Coding => ({ system: OWN_SYSTEM.organisationAccess, code });
const labelled = <T extends Resource>(resource: T, ...codes: string[]): T => ({
  ...resource,
  meta: { ...resource.meta, security: codes.map(label) },
});

const patient = (...codes: string[]): Patient => labelled({ resourceType: 'Patient', id: 'p1' }, ...codes);
const referral = (...codes: string[]): ServiceRequest =>
  labelled(
    {
      resourceType: 'ServiceRequest',
      id: 'sr1',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/p1' },
    },
    ...codes,
  );
const organization: Organization = { resourceType: 'Organization', id: 'o1', name: 'Riverside' };

describe('isPersonalData', () => {
  it.each([
    'Patient',
    'RelatedPerson',
    'ServiceRequest',
    'Task',
    'CarePlan',
    'Goal',
    'CareTeam',
    'Consent',
    'Condition',
    'Observation',
    'QuestionnaireResponse',
    'Provenance',
  ])('%s is personal data', (type) => {
    expect(isPersonalData(type)).toBe(true);
  });

  it.each(['Organization', 'HealthcareService', 'Practitioner', 'PractitionerRole', 'Location'])(
    '%s is directory data',
    (type) => {
      expect(isPersonalData(type)).toBe(false);
    },
  );
});

describe('withAccess and hasAccess', () => {
  it('adds one label per organisation', () => {
    const bare: Patient = { resourceType: 'Patient', id: 'p1' };
    const result = withAccess(bare, [GP, SERVICE]);
    expect(result.meta?.security).toEqual([label(GP), label(SERVICE)]);
    expect(hasAccess(result, [GP, SERVICE])).toBe(true);
    expect(hasAccess(result, [GP])).toBe(true);
    expect(hasAccess(result, [OTHER_GP])).toBe(false);
    expect(hasAccess(result, [GP, OTHER_GP])).toBe(false);
  });

  it('keeps the labels and meta already there and never duplicates a label', () => {
    const confidential: Coding = {
      system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
      code: 'R',
    };
    const stored: Patient = {
      resourceType: 'Patient',
      id: 'p1',
      meta: { versionId: '3', security: [confidential, label(GP)] },
    };
    const result = withAccess(stored, [GP, SERVICE, SERVICE]);
    expect(result.meta).toEqual({ versionId: '3', security: [confidential, label(GP), label(SERVICE)] });
    expect(withAccess(result, [GP, SERVICE]).meta?.security).toHaveLength(3);
  });

  it('does not mutate its input', () => {
    const stored = patient(GP);
    const before = structuredClone(stored);
    const result = withAccess(stored, [SERVICE]);
    expect(stored).toEqual(before);
    expect(result).not.toBe(stored);
  });

  it('leaves directory resources untouched', () => {
    expect(withAccess(organization, [GP])).toBe(organization);
    expect(organization.meta).toBeUndefined();
  });

  it('counts only labels of the access system', () => {
    const lookalike: Patient = {
      resourceType: 'Patient',
      meta: { security: [{ system: 'https://example.org/other', code: GP }] },
    };
    expect(hasAccess(lookalike, [GP])).toBe(false);
    expect(hasAccess({ resourceType: 'Patient' }, [GP])).toBe(false);
    expect(hasAccess({ resourceType: 'Patient' }, [])).toBe(true);
  });
});

describe('isVisible', () => {
  it('shows a personal resource only to an organisation on its labels', () => {
    expect(isVisible(GP_READER, patient(GP))).toBe(true);
    expect(isVisible(GP_READER, patient(SERVICE, GP))).toBe(true);
    expect(isVisible(GP_READER, patient(OTHER_GP))).toBe(false);
    expect(isVisible(GP_READER, { resourceType: 'Patient', id: 'p1' })).toBe(false);
    expect(
      isVisible(GP_READER, {
        resourceType: 'Patient',
        meta: { security: [{ system: 'https://example.org/other', code: GP }] },
      }),
    ).toBe(false);
  });

  it('shows directory resources to everyone', () => {
    expect(isVisible(GP_READER, organization)).toBe(true);
    expect(isVisible(GP_READER, labelled(organization, OTHER_GP))).toBe(true);
  });

  it('shows everything in the open mode', () => {
    expect(isVisible(OPEN, patient(OTHER_GP))).toBe(true);
    expect(isVisible(OPEN, { resourceType: 'Patient' })).toBe(true);
  });
});

describe('scopedQuery', () => {
  it("adds the caller's label to a search of personal data, keeping the query", () => {
    const query = new URLSearchParams({ status: 'active', _count: '10' });
    const scoped = scopedQuery(GP_READER, 'ServiceRequest', query);
    expect(scoped.get('status')).toBe('active');
    expect(scoped.get('_count')).toBe('10');
    expect(scoped.getAll('_security')).toEqual([`${OWN_SYSTEM.organisationAccess}|${GP}`]);
  });

  it('does not mutate its input', () => {
    const query = new URLSearchParams({ status: 'active' });
    scopedQuery(GP_READER, 'Patient', query);
    expect(query.toString()).toBe('status=active');
    expect(query.has('_security')).toBe(false);
  });

  it('leaves directory searches and the open mode alone', () => {
    const query = new URLSearchParams({ name: 'Riverside' });
    expect(scopedQuery(GP_READER, 'Organization', query)).toBe(query);
    expect(scopedQuery(OPEN, 'Patient', query)).toBe(query);
    expect(query.has('_security')).toBe(false);
  });
});

describe('visibleEntries', () => {
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    total: 2,
    entry: [
      { resource: referral(GP), search: { mode: 'match' } },
      { resource: referral(OTHER_GP), search: { mode: 'match' } },
      { resource: patient(GP), search: { mode: 'include' } },
      { resource: patient(OTHER_GP), search: { mode: 'include' } },
      { resource: organization, search: { mode: 'include' } },
      {
        resource: labelled({ resourceType: 'Observation', status: 'final', code: {} }, GP),
        search: { mode: 'include' },
      },
      { resource: { resourceType: 'AuditEvent' } as Resource, search: { mode: 'include' } },
      { fullUrl: 'urn:uuid:no-resource', search: { mode: 'match' } },
    ],
  };
  const types = (b: Bundle) => b.entry?.map((e) => `${e.resource?.resourceType}`);

  it("drops other organisations' resources and includes of unreadable types", () => {
    const reader = principal(GP, 'system/ServiceRequest.rs', 'system/Patient.r', 'system/Organization.r');
    const result = visibleEntries(reader, bundle);
    expect(result.entry?.map((e) => e.resource)).toEqual([referral(GP), patient(GP), organization]);
    expect(result.total).toBe(2);
    expect(result.type).toBe('searchset');
  });

  it('keeps included types a wildcard grants, but never AuditEvent', () => {
    expect(types(visibleEntries(GP_READER, bundle))).toEqual([
      'ServiceRequest',
      'Patient',
      'Organization',
      'Observation',
    ]);
  });

  it('keeps every organisation in the open mode, but still checks included types', () => {
    const open = principal(undefined, 'system/ServiceRequest.rs');
    expect(types(visibleEntries(open, bundle))).toEqual(['ServiceRequest', 'ServiceRequest']);
  });

  it('does not mutate its input, and passes a bundle without entries through', () => {
    const before = structuredClone(bundle);
    visibleEntries(GP_READER, bundle);
    expect(bundle).toEqual(before);
    const empty: Bundle = { resourceType: 'Bundle', type: 'searchset', total: 0 };
    expect(visibleEntries(GP_READER, empty)).toBe(empty);
  });
});

describe('mayShowInAnswer', () => {
  const writer = principal(GP, 'system/ServiceRequest.crs', 'system/Patient.r', 'system/Organization.r');

  it('shows a Patient only when this write created it', () => {
    expect(mayShowInAnswer(writer, patient(GP), true)).toBe(true);
    expect(mayShowInAnswer(writer, patient(GP), false)).toBe(false);
    expect(mayShowInAnswer(OPEN, patient(GP), false)).toBe(false);
  });

  it('needs the read scope on the type', () => {
    const sender = principal(GP, 'system/ServiceRequest.c');
    expect(mayShowInAnswer(sender, patient(GP), true)).toBe(false);
    expect(mayShowInAnswer(sender, referral(GP), true)).toBe(false);
    expect(mayShowInAnswer(sender, organization, false)).toBe(false);
  });

  it("needs the resource to carry the caller's label", () => {
    expect(mayShowInAnswer(writer, referral(GP), false)).toBe(true);
    expect(mayShowInAnswer(writer, referral(OTHER_GP), false)).toBe(false);
    expect(mayShowInAnswer(writer, referral(OTHER_GP), true)).toBe(false);
    expect(mayShowInAnswer(writer, patient(OTHER_GP), true)).toBe(false);
  });

  it('shows directory resources the caller may read, however they came about', () => {
    expect(mayShowInAnswer(writer, organization, false)).toBe(true);
    expect(mayShowInAnswer(GP_READER, organization, true)).toBe(true);
  });
});

describe('referralAccessToPatient', () => {
  const stored: Patient = {
    ...patient(SERVICE),
    birthDate: '1960-03-02',
    name: [{ family: 'Okafor', given: ['Ada'] }, { family: 'Smith' }],
  };
  const sent = (overrides: Partial<Patient>): Patient => ({ resourceType: 'Patient', ...overrides });

  it('is known in the open mode, whatever was sent', () => {
    expect(referralAccessToPatient(OPEN, stored, sent({}))).toBe('known');
  });

  it("is known when the record already carries the caller's label", () => {
    const shared = { ...stored, meta: { security: [label(SERVICE), label(GP)] } };
    expect(referralAccessToPatient(GP_READER, shared, sent({ birthDate: '2000-01-01' }))).toBe('known');
  });

  it('is granted when the birth date and a family name agree, ignoring case and surrounding spaces', () => {
    expect(
      referralAccessToPatient(
        GP_READER,
        stored,
        sent({ birthDate: '1960-03-02', name: [{ family: 'Okafor' }] }),
      ),
    ).toBe('granted');
    expect(
      referralAccessToPatient(
        GP_READER,
        stored,
        sent({ birthDate: '1960-03-02', name: [{ family: 'Jones' }, { family: '  sMITH ' }] }),
      ),
    ).toBe('granted');
    const spacedRecord = { ...stored, name: [{ family: ' OKAFOR  ' }] };
    expect(
      referralAccessToPatient(
        GP_READER,
        spacedRecord,
        sent({ birthDate: '1960-03-02', name: [{ family: 'okafor' }] }),
      ),
    ).toBe('granted');
  });

  it('is linked when the birth date differs or is missing', () => {
    const name = [{ family: 'Okafor' }];
    expect(referralAccessToPatient(GP_READER, stored, sent({ birthDate: '1960-03-03', name }))).toBe(
      'linked',
    );
    expect(referralAccessToPatient(GP_READER, stored, sent({ birthDate: '1960-03', name }))).toBe('linked');
    expect(referralAccessToPatient(GP_READER, stored, sent({ name }))).toBe('linked');
    const noBirthDate: Patient = { ...stored, birthDate: undefined };
    expect(referralAccessToPatient(GP_READER, noBirthDate, sent({ name }))).toBe('linked');
    expect(referralAccessToPatient(GP_READER, noBirthDate, sent({ birthDate: '1960-03-02', name }))).toBe(
      'linked',
    );
  });

  it('is linked when no family name agrees', () => {
    const birthDate = '1960-03-02';
    expect(referralAccessToPatient(GP_READER, stored, sent({ birthDate, name: [{ family: 'Okafo' }] }))).toBe(
      'linked',
    );
    expect(referralAccessToPatient(GP_READER, stored, sent({ birthDate, name: [{ given: ['Ada'] }] }))).toBe(
      'linked',
    );
    expect(referralAccessToPatient(GP_READER, stored, sent({ birthDate, name: [{ family: '  ' }] }))).toBe(
      'linked',
    );
    expect(referralAccessToPatient(GP_READER, stored, sent({ birthDate }))).toBe('linked');
    const unnamed: Patient = { ...stored, name: undefined };
    expect(
      referralAccessToPatient(GP_READER, unnamed, sent({ birthDate, name: [{ family: 'Okafor' }] })),
    ).toBe('linked');
  });

  it('is linked when the sender sent only an NHS number', () => {
    const onlyNhsNumber = sent({
      identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000018' }],
    });
    expect(referralAccessToPatient(GP_READER, stored, onlyNhsNumber)).toBe('linked');
  });
});
