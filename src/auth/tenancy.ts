import type { Bundle, Coding, Resource } from '@medplum/fhirtypes';
import { dataClassOf } from '../fhir/resource-types.ts';
import { OWN_SYSTEM } from '../fhir/systems.ts';
import type { Principal, RequestContext } from './principal.ts';
import { allows } from './scopes.ts';

/**
 * Tenancy by organisation. Every resource that holds or points at a person's data carries, in
 * `meta.security`, one access label per organisation allowed to see it (by ODS code: the
 * referrer and the receiving service). Every read goes through this module: a search is narrowed
 * to the caller's label before it reaches the store, and whatever comes back (matches, `_include`,
 * `_revinclude`, history versions, reads by id) is checked again before it is returned.
 * Which types are labelled is read from the one table of data classes (`dataClassOf`): directory
 * resources are visible to every authenticated client; personal data and the audit trail only
 * through a label (the whole trail to an operator); a type with no class to no organisation.
 * A care team's organisations see the parts of a care plan the person consented to share with
 * them through labels of their own (`careTeamAccess`), each naming the Consent it rests on, set and
 * removed as the consent and the team change; a read through one is recorded with that Consent.
 */
export function isPersonalData(type: string): boolean {
  return dataClassOf(type) === 'personal';
}

/** Whether resources of this type are seen only through labels: personal data, the audit trail, the unknown. */
export function isLabelled(type: string): boolean {
  const kind = dataClassOf(type);
  return kind !== 'directory' && kind !== 'contract';
}

/** Whether the principal sees every resource of the type whatever its labels. */
function seesAll(principal: Principal, type: string): boolean {
  if (principal.organization === undefined) return true;
  const kind = dataClassOf(type);
  return kind === 'directory' || kind === 'contract' || (kind === 'operator' && principal.operator === true);
}

function accessLabel(organization: string): Coding {
  return { system: OWN_SYSTEM.organisationAccess, code: organization };
}

/** The resource with access labels for these organisations (existing labels kept). */
export function withAccess<T extends Resource>(resource: T, organizations: readonly string[]): T {
  if (!isLabelled(resource.resourceType)) return resource;
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
  if (seesAll(principal, resource.resourceType)) return true;
  const security = resource.meta?.security ?? [];
  const organization = principal.organization as string;
  return hasLabel(security, organization) || teamShareOf(security, organization) !== undefined;
}

/**
 * The Consent (`Consent/<id>`) the principal sees this resource by: set when it is visible to the
 * principal's organisation only as a member of the person's care team.
 */
export function consentRelied(principal: Principal, resource: Resource): string | undefined {
  if (seesAll(principal, resource.resourceType)) return undefined;
  const security = resource.meta?.security ?? [];
  const organization = principal.organization as string;
  if (hasLabel(security, organization)) return undefined;
  return teamShareOf(security, organization)?.display;
}

/** Notes, for the request's audit record, the Consents what it discloses rests on. */
export function noteDisclosures(ctx: RequestContext, resources: Iterable<Resource | undefined>): void {
  for (const resource of resources) {
    const consent = resource && consentRelied(ctx.principal, resource);
    if (!consent) continue;
    ctx.consents ??= [];
    ctx.consents.push(consent);
  }
}

function teamShareOf(security: readonly Coding[], organization: string): Coding | undefined {
  return security.find((c) => c.system === OWN_SYSTEM.careTeamAccess && c.code === organization);
}

/** Whether the principal sees this resource only as a member of the person's care team. */
export const seenOnlyAsTeamMember = (principal: Principal, resource: Resource): boolean =>
  consentRelied(principal, resource) !== undefined;

/** A care team's organisation, and the Consent it may read a part of the plan by. */
export interface TeamShare {
  organization: string;
  consent: string;
}

/** The care-team shares a resource carries. */
export function teamSharesOf(resource: Resource): TeamShare[] {
  return (resource.meta?.security ?? [])
    .filter((c) => c.system === OWN_SYSTEM.careTeamAccess && c.code)
    .map((c) => ({ organization: c.code as string, consent: c.display ?? '' }));
}

/** The resource with exactly these care-team shares (every other label kept). */
export function withTeamShares<T extends Resource>(resource: T, shares: readonly TeamShare[]): T {
  const kept = (resource.meta?.security ?? []).filter((c) => c.system !== OWN_SYSTEM.careTeamAccess);
  const security = [
    ...kept,
    ...shares.map((s) => ({ system: OWN_SYSTEM.careTeamAccess, code: s.organization, display: s.consent })),
  ];
  return { ...resource, meta: { ...resource.meta, security } };
}

/** The labels of the organisations party to a resource, without its care-team shares. */
export function partyLabels(resource: Resource): Coding[] {
  return (resource.meta?.security ?? []).filter((c) => c.system === OWN_SYSTEM.organisationAccess);
}

/**
 * The store query for a search, narrowed to what the principal may see; with `partyOnly`, to what
 * it is party to (what it may match, name or write on), leaving out what it sees only as a member
 * of a person's care team.
 */
export function scopedQuery(
  principal: Principal,
  type: string,
  query: URLSearchParams,
  options: { partyOnly?: boolean } = {},
): URLSearchParams {
  if (seesAll(principal, type)) return query;
  const scoped = new URLSearchParams(query);
  const own = `${OWN_SYSTEM.organisationAccess}|${principal.organization}`;
  // Personal data is also seen as a member of a person's care team; nothing else is shared so.
  const shared = isPersonalData(type) && !options.partyOnly;
  const team = shared ? `,${OWN_SYSTEM.careTeamAccess}|${principal.organization}` : '';
  scoped.append('_security', own + team);
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
 * that type and that resource.
 */
export function mayShowInAnswer(principal: Principal, resource: Resource): boolean {
  return allows(principal.scopes, resource.resourceType, 'r') && isVisible(principal, resource);
}

/**
 * The organisation whose record of a person a referral writes: the sender's. Each organisation
 * keeps its own record (one per NHS number), found and updated only among its own records, so
 * nothing another organisation recorded about the person is read, merged or revealed. A sender
 * whose organisation is not known (the open local mode, a referrer without an ODS code) keeps its
 * records under one code no ODS code can be.
 */
export function recordOwner(organization: string | undefined): string {
  return organization ?? 'unattributed';
}

function ownerLabel(owner: string): Coding {
  return { system: OWN_SYSTEM.recordOwner, code: owner };
}

/** The person's record marked as the owner's (any other owner label replaced). */
export function withOwner<T extends Resource>(resource: T, owner: string): T {
  const security = (resource.meta?.security ?? []).filter((c) => c.system !== OWN_SYSTEM.recordOwner);
  return { ...resource, meta: { ...resource.meta, security: [ownerLabel(owner), ...security] } };
}

/** Whose record this is; undefined for a record with no owner (written before records had one). */
export function ownerOf(resource: Resource): string | undefined {
  return resource.meta?.security?.find((c) => c.system === OWN_SYSTEM.recordOwner)?.code;
}

/** The `_security` search value that finds only the owner's records. */
export function ownedBy(owner: string): string {
  return `${OWN_SYSTEM.recordOwner}|${owner}`;
}
