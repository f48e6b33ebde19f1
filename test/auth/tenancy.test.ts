import type { Bundle, Coding, Organization, Patient, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import { parseScope, type Scope } from '../../src/auth/scopes.ts';
import {
  consentRelied,
  hasAccess,
  isPersonalData,
  isVisible,
  mayShowInAnswer,
  noteDisclosures,
  ownedBy,
  ownerOf,
  partyLabels,
  recordOwner,
  scopedQuery,
  teamSharesOf,
  visibleEntries,
  withAccess,
  withOwner,
  withTeamShares,
} from '../../src/auth/tenancy.ts';
import { toPublicResource } from '../../src/fhir/public-view.ts';
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
    expect(scoped.getAll('_security')).toEqual([
      `${OWN_SYSTEM.organisationAccess}|${GP},${OWN_SYSTEM.careTeamAccess}|${GP}`,
    ]);
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

  it("shows the sender's own record of a person, created or found", () => {
    expect(mayShowInAnswer(writer, patient(GP))).toBe(true);
    expect(mayShowInAnswer(OPEN, patient(GP))).toBe(true);
  });

  it('needs the read scope on the type', () => {
    const sender = principal(GP, 'system/ServiceRequest.c');
    expect(mayShowInAnswer(sender, patient(GP))).toBe(false);
    expect(mayShowInAnswer(sender, referral(GP))).toBe(false);
    expect(mayShowInAnswer(sender, organization)).toBe(false);
  });

  it("needs the resource to carry the caller's label", () => {
    expect(mayShowInAnswer(writer, referral(GP))).toBe(true);
    expect(mayShowInAnswer(writer, referral(OTHER_GP))).toBe(false);
    expect(mayShowInAnswer(writer, patient(OTHER_GP))).toBe(false);
  });

  it('shows directory resources the caller may read', () => {
    expect(mayShowInAnswer(writer, organization)).toBe(true);
    expect(mayShowInAnswer(GP_READER, organization)).toBe(true);
  });
});

describe('record owners', () => {
  it('names the sender, or one code no ODS code can be when the sender is not known', () => {
    expect(recordOwner(GP)).toBe(GP);
    expect(recordOwner(undefined)).toBe('unattributed');
    expect(recordOwner(undefined)).not.toMatch(/^[A-Z0-9]{3,10}$/);
  });

  it('marks a record as one organisation’s, replacing any owner before, keeping access labels', () => {
    const owned = withOwner(patient(GP, SERVICE), GP);
    expect(ownerOf(owned)).toBe(GP);
    expect(hasAccess(owned, [GP, SERVICE])).toBe(true);
    const moved = withOwner(owned, OTHER_GP);
    expect(ownerOf(moved)).toBe(OTHER_GP);
    expect(moved.meta?.security?.filter((c) => c.system === OWN_SYSTEM.recordOwner)).toHaveLength(1);
    expect(ownerOf(patient(GP))).toBeUndefined();
  });

  it('searches by the owner label, not by an access label', () => {
    expect(ownedBy(GP)).toBe(`${OWN_SYSTEM.recordOwner}|${GP}`);
    expect(ownedBy(GP)).not.toBe(`${OWN_SYSTEM.organisationAccess}|${GP}`);
  });
});

describe('the audit trail', () => {
  const event = (...codes: string[]) => labelled({ resourceType: 'AuditEvent' } as Resource, ...codes);
  const auditor = principal(GP, 'system/AuditEvent.rs');
  const operator: Principal = { ...principal('IG001', 'system/AuditEvent.rs'), operator: true };

  it('is seen by an organisation for its own events only, and whole by the operator', () => {
    expect(isVisible(auditor, event(GP))).toBe(true);
    expect(isVisible(auditor, event(OTHER_GP))).toBe(false);
    expect(isVisible(auditor, event())).toBe(false);
    expect(isVisible(operator, event(OTHER_GP))).toBe(true);
    expect(isVisible(operator, event())).toBe(true);
  });

  it("narrows an organisation's search of it to its label, and not the operator's", () => {
    const query = new URLSearchParams({ _count: '10' });
    expect(scopedQuery(auditor, 'AuditEvent', query).getAll('_security')).toEqual([
      `${OWN_SYSTEM.organisationAccess}|${GP}`,
    ]);
    expect(scopedQuery(operator, 'AuditEvent', query)).toBe(query);
  });

  it('labels an event as personal data is labelled', () => {
    expect(hasAccess(withAccess(event(), [GP]), [GP])).toBe(true);
  });
});

describe('a type with no class', () => {
  it('is seen by no organisation and narrowed like personal data', () => {
    const unknown = labelled({ resourceType: 'Account' } as Resource, GP);
    expect(isVisible(principal(OTHER_GP, 'system/*.rs'), unknown)).toBe(false);
    expect(scopedQuery(GP_READER, 'Account', new URLSearchParams()).has('_security')).toBe(true);
    expect(isPersonalData('Account')).toBe(false);
  });
});

describe('care-team shares', () => {
  const NURSING = 'RDN01';
  const nurse = principal(NURSING, 'system/*.rs');
  const plan = withTeamShares(labelled({ resourceType: 'CarePlan' } as Resource, GP, SERVICE), [
    { organization: NURSING, consent: 'Consent/c1' },
  ]);

  it('make a part of a plan visible to a team organisation, on the consent they name', () => {
    expect(isVisible(nurse, plan)).toBe(true);
    expect(consentRelied(nurse, plan)).toBe('Consent/c1');
    // A party sees it on its own grounds; another organisation not at all.
    expect(isVisible(GP_READER, plan)).toBe(true);
    expect(consentRelied(GP_READER, plan)).toBeUndefined();
    expect(isVisible(principal(OTHER_GP, 'system/*.rs'), plan)).toBe(false);
    // Without the share, the team organisation sees nothing.
    const unshared = withTeamShares(plan, []);
    expect(isVisible(nurse, unshared)).toBe(false);
    expect(teamSharesOf(unshared)).toEqual([]);
    expect(partyLabels(unshared)).toEqual(partyLabels(plan));
  });

  it('are replaced whole, keep every other label, and are never shown', () => {
    const moved = withTeamShares(plan, [{ organization: 'RSW01', consent: 'Consent/c2' }]);
    expect(teamSharesOf(moved)).toEqual([{ organization: 'RSW01', consent: 'Consent/c2' }]);
    expect(partyLabels(moved).map((c) => c.code)).toEqual([GP, SERVICE]);
    expect(JSON.stringify(toPublicResource(moved))).not.toContain(OWN_SYSTEM.careTeamAccess);
  });

  it('are left out of what a caller may match or cite, as party to it', () => {
    const query = scopedQuery(nurse, 'Consent', new URLSearchParams(), { partyOnly: true });
    expect(query.getAll('_security')).toEqual([`${OWN_SYSTEM.organisationAccess}|${NURSING}`]);
    expect(scopedQuery(nurse, 'Consent', new URLSearchParams()).getAll('_security')).toEqual([
      `${OWN_SYSTEM.organisationAccess}|${NURSING},${OWN_SYSTEM.careTeamAccess}|${NURSING}`,
    ]);
  });

  it('are searched for personal data only, and noted for the audit record when relied on', () => {
    const query = scopedQuery(nurse, 'AuditEvent', new URLSearchParams());
    expect(query.getAll('_security')).toEqual([`${OWN_SYSTEM.organisationAccess}|${NURSING}`]);
    const ctx = { requestId: 'r', principal: nurse, touched: [] };
    noteDisclosures(ctx, [plan, undefined, labelled({ resourceType: 'Goal' } as Resource, NURSING)]);
    expect(ctx).toEqual({ requestId: 'r', principal: nurse, touched: [], consents: ['Consent/c1'] });
  });
});
