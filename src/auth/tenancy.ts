import type { Bundle, Coding, Patient, Resource } from '@medplum/fhirtypes';
import { OWN_SYSTEM } from '../fhir/systems.ts';
import type { Principal } from './principal.ts';
import { allows } from './scopes.ts';

/**
 * Tenancy by organisation. Every resource that holds or points at a person's data carries, in
 * `meta.security`, one access label per organisation allowed to see it (by ODS code: the
 * referrer and the receiving service). Every read goes through this module: a search is narrowed
 * to the caller's label before it reaches the store, and whatever comes back (matches, `_include`,
 * `_revinclude`, history versions, reads by id) is checked again before it is returned.
 * Directory resources (organisations, services, practitioners, locations) are not personal data
 * and are visible to every authenticated client.
 */
const PERSONAL_DATA_TYPES: ReadonlySet<string> = new Set([
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
]);

export function isPersonalData(type: string): boolean {
  return PERSONAL_DATA_TYPES.has(type);
}

function accessLabel(organization: string): Coding {
  return { system: OWN_SYSTEM.organisationAccess, code: organization };
}

/** The resource with access labels for these organisations (existing labels kept). */
export function withAccess<T extends Resource>(resource: T, organizations: readonly string[]): T {
  if (!isPersonalData(resource.resourceType)) return resource;
  const security = [...(resource.meta?.security ?? [])];
  for (const organization of organizations) {
    if (!hasLabel(security, organization)) security.push(accessLabel(organization));
  }
  return { ...resource, meta: { ...resource.meta, security } };
}

/** Whether the resource already carries labels for all these organisations. */
export function hasAccess(resource: Resource, organizations: readonly string[]): boolean {
  return organizations.every((o) => hasLabel(resource.meta?.security ?? [], o));
}

function hasLabel(security: readonly Coding[], organization: string): boolean {
  return security.some((c) => c.system === OWN_SYSTEM.organisationAccess && c.code === organization);
}

/** Whether the principal may see this resource at all. */
export function isVisible(principal: Principal, resource: Resource): boolean {
  if (principal.organization === undefined || !isPersonalData(resource.resourceType)) return true;
  return hasLabel(resource.meta?.security ?? [], principal.organization);
}

/** The store query for a search, narrowed to what the principal may see. */
export function scopedQuery(principal: Principal, type: string, query: URLSearchParams): URLSearchParams {
  if (principal.organization === undefined || !isPersonalData(type)) return query;
  const scoped = new URLSearchParams(query);
  scoped.append('_security', `${OWN_SYSTEM.organisationAccess}|${principal.organization}`);
  return scoped;
}

/**
 * A search or history Bundle with every entry the principal may not see removed: other
 * organisations' resources, and included resources of types its scopes do not grant reading.
 */
export function visibleEntries(principal: Principal, bundle: Bundle): Bundle {
  if (!bundle.entry) return bundle;
  const entry = bundle.entry.filter((e) => {
    const resource = e.resource;
    if (!resource) return false;
    if (e.search?.mode === 'include' && !allows(principal.scopes, resource.resourceType, 'r')) return false;
    return isVisible(principal, resource);
  });
  return { ...bundle, entry };
}

/**
 * Whether the answer to a write may show the caller this stored resource: only where it may read
 * that type and that resource, and never a person already on record (a write proves only that the
 * caller knows an identifier, not that it may see what others recorded about the person).
 */
export function mayShowInAnswer(
  principal: Principal,
  resource: Resource,
  createdByThisWrite: boolean,
): boolean {
  if (!allows(principal.scopes, resource.resourceType, 'r') || !isVisible(principal, resource)) return false;
  return createdByThisWrite || resource.resourceType !== 'Patient';
}

/**
 * What a referral does to a person already on record, by what its sender may know:
 * - `known`: the sender could already see the record; it gains missing demographics, and the
 *   answer names any that differ.
 * - `granted`: the referral shows the sender knows the person (the NHS number matched, and the
 *   birth date and a family name agree with the record, as a PDS trace requires); its
 *   organisation may see the record from now on and the record gains missing demographics.
 * - `linked`: the referral is stored against the person, but the record gains neither the
 *   sender's label nor its demographics, and the answer says nothing about how the two differ.
 * The receiving service is given sight of the record in every case: it must reach the person.
 */
export type PatientAccess = 'known' | 'granted' | 'linked';

export function referralAccessToPatient(principal: Principal, stored: Patient, sent: Patient): PatientAccess {
  if (principal.organization === undefined || isVisible(principal, stored)) return 'known';
  if (!stored.birthDate || stored.birthDate !== sent.birthDate) return 'linked';
  const families = (patient: Patient) =>
    new Set((patient.name ?? []).map((n) => n.family?.trim().toLowerCase()).filter(Boolean));
  const recorded = families(stored);
  return [...families(sent)].some((family) => recorded.has(family)) ? 'granted' : 'linked';
}
