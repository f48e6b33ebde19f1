import type {
  Bundle,
  HealthcareService,
  Identifier,
  Reference,
  Resource,
  ResourceType,
} from '@medplum/fhirtypes';
import type { Principal } from '../auth/principal.ts';
import { ownedBy, scopedQuery } from '../auth/tenancy.ts';
import type { Issue } from '../fhir/outcomes.ts';
import { ODS_SYSTEMS, PRACTITIONER_ID_SYSTEMS, SYSTEM } from '../fhir/systems.ts';
import { type FhirStore, readIfExists, searchAll } from '../medplum/store.ts';
import { odsCodeOf } from '../workflow/organisations.ts';
import { parseLocalReference } from '../workflow/references.ts';
import { entryFor, type ReferralBundle } from './referral-bundle.ts';

/** Identifier systems by which an entry of each type is matched to a stored resource. */
const MATCH_SYSTEMS: Partial<Record<ResourceType, readonly string[]>> = {
  Patient: [SYSTEM.nhsNumber],
  Practitioner: PRACTITIONER_ID_SYSTEMS,
  PractitionerRole: [SYSTEM.sdsRoleProfile],
  Organization: ODS_SYSTEMS,
};

/** The identifier an entry is matched by, if its type is matched at all. */
export function matchIdentifier(resource: Resource): Identifier | undefined {
  const systems = MATCH_SYSTEMS[resource.resourceType];
  if (!systems) return undefined;
  const identifiers = (resource as { identifier?: Identifier[] }).identifier ?? [];
  return identifiers.find((i) => i.value && i.system && systems.includes(i.system));
}

/**
 * Lock key for an identity: concurrent intakes of the same person or organisation serialise on it.
 * A person's key names the organisation whose record it is (`owner`): records of one person kept
 * by two organisations are two records.
 */
export function identityKey(type: string, identifier: Identifier, owner: string): string {
  const system = ODS_SYSTEMS.includes(identifier.system ?? '') ? SYSTEM.odsOrganization : identifier.system;
  return type === 'Patient'
    ? `${type}|${owner}|${system}|${identifier.value}`
    : `${type}|${system}|${identifier.value}`;
}

export interface Resolution {
  /** Bundle entries that match a stored resource, by entry index. */
  matched: Map<number, Resource>;
  /** SR references given as `Type/id` or by identifier, resolved to stored resources, by element path. */
  resolved: Map<string, Resource>;
  /** The Organization that receives the referral (owner of its Task). */
  receivingOrganization: Reference;
  /** Its ODS code, when it has one. */
  receivingOdsCode: string | undefined;
  issues: Issue[];
  /** The answers to the caller's other searches, in order. */
  also: Bundle[];
}

/**
 * Matches the referral's people and organisations to stored ones, resolves references to
 * resources outside the Bundle, and checks that the receiving service is known. Reads only.
 */
export async function resolveIdentities(
  store: FhirStore,
  referral: ReferralBundle,
  principal: Principal,
  /** The organisation whose record of the person the referral writes (tenancy's `recordOwner`). */
  owner: string,
  /** Other searches the caller needs, sent in the same round trip; their answers are in `also`. */
  also: readonly { type: ResourceType; query: Record<string, string> }[] = [],
): Promise<Resolution> {
  const issues: Issue[] = [];
  const { at } = referral.serviceRequest;
  const matching = entryMatching(referral, owner);
  // What the referral names outside itself is looked for only among what the caller may see, and
  // a person only among the sender's own records: otherwise whether it resolved would tell a
  // sender that another organisation has a person or consent on record.
  const externals = externalTargets(referral).map((target) => ({
    ...target,
    searches: externalSearches(target.ref, target.types).map(({ type, query }) => ({
      type,
      query:
        type === 'Patient'
          ? { ...query, _security: ownedBy(owner) }
          : Object.fromEntries(scopedQuery(principal, type, new URLSearchParams(query), { partyOnly: true })),
    })),
  }));
  const service = receivingServiceSearch(referral);
  // Every look-up the referral needs, in one round trip.
  const results = await searchAll(store, [
    ...matching.searches,
    ...externals.flatMap((e) => e.searches),
    ...(service ? [service] : []),
    ...also,
  ]);
  const alsoFound = results.slice(results.length - also.length);
  const matched = matching.apply(results.slice(0, matching.searches.length));
  let next = matching.searches.length;
  const resolved = new Map<string, Resource>();
  for (const { path, types, searches } of externals) {
    const found = results
      .slice(next, next + searches.length)
      .map((bundle) => bundle.entry?.[0]?.resource)
      .find(Boolean);
    next += searches.length;
    if (found) resolved.set(path, found);
    else {
      issues.push({
        code: 'not-found',
        diagnostics: `${path} does not resolve to a stored ${types.join(' or ')}`,
        expression: [`${at}.${path}`],
      });
    }
  }
  const person =
    resolved.get('subject') ?? (referral.subject ? matched.get(referral.subject.index) : undefined);
  consentIssues(referral, resolved, person, issues);
  const services = service ? results[next] : undefined;
  const receiving = await checkReceivingService(store, referral, matched, resolved, issues, services);
  return {
    matched,
    resolved,
    receivingOrganization: receiving.reference,
    receivingOdsCode: receiving.odsCode,
    issues,
    also: alsoFound,
  };
}

/**
 * A consent named by reference, rather than sent, must hold as one sent would: active, permitting,
 * and the referred person's.
 */
function consentIssues(
  referral: ReferralBundle,
  resolved: Map<string, Resource>,
  person: Resource | undefined,
  issues: Issue[],
): void {
  const { at } = referral.serviceRequest;
  for (const [path, resource] of resolved) {
    if (resource.resourceType !== 'Consent') continue;
    const problems = [
      resource.status !== 'active' && 'is not active',
      resource.provision?.type === 'deny' && 'denies sharing',
      (!person || resource.patient?.reference !== `Patient/${person.id}`) && 'is not the referred person’s',
    ].filter(Boolean);
    if (problems.length) {
      issues.push({
        code: 'business-rule',
        diagnostics: `The consent named ${problems.join(' and ')}`,
        expression: [`${at}.${path}`],
      });
    }
  }
}

/** The references of the ServiceRequest to resources outside the Bundle, by element path. */
function externalTargets(
  referral: ReferralBundle,
): { path: string; ref: Reference; types: ResourceType[] }[] {
  const sr = referral.serviceRequest.resource;
  const targets: [string, Reference | undefined, ResourceType[]][] = [
    ['subject', sr.subject, ['Patient']],
    ['requester', sr.requester, ['Practitioner', 'PractitionerRole', 'Organization']],
    ['performer[0]', sr.performer?.[0], ['Organization', 'HealthcareService']],
    ...(sr.supportingInfo ?? []).map((r, i): [string, Reference, ResourceType[]] => [
      `supportingInfo[${i}]`,
      r,
      ['Consent', 'QuestionnaireResponse'],
    ]),
    ...(sr.reasonReference ?? []).map((r, i): [string, Reference, ResourceType[]] => [
      `reasonReference[${i}]`,
      r,
      ['Condition'],
    ]),
  ];
  return targets.flatMap(([path, ref, types]) =>
    ref && !entryFor(referral, ref.reference) ? [{ path, ref, types }] : [],
  );
}

/** The searches that find what a reference outside the Bundle names (by id, or by identifier). */
function externalSearches(
  ref: Reference,
  types: ResourceType[],
): { type: ResourceType; query: Record<string, string> }[] {
  if (ref.reference) {
    const target = parseLocalReference(ref.reference);
    return target && types.includes(target.type)
      ? [{ type: target.type, query: { _id: target.id, _count: '1' } }]
      : [];
  }
  if (ref.identifier?.system && ref.identifier.value) {
    const candidates = ref.type ? [ref.type as ResourceType] : types;
    const identifier = ref.identifier;
    return candidates
      .filter((t) => types.includes(t))
      .map((type) => ({ type, query: identifierQuery(identifier) }));
  }
  return [];
}

/**
 * The search for the receiving organisation's services (active or not), made with the other look-ups
 * when the performer is named by ODS code (in the Bundle or as a logical reference) or by id.
 */
function receivingServiceSearch(
  referral: ReferralBundle,
): { type: ResourceType; query: Record<string, string> } | undefined {
  const performer = referral.serviceRequest.resource.performer?.[0];
  if (!performer) return undefined;
  const local = referral.performer?.resource;
  const identifier =
    local?.resourceType === 'Organization'
      ? matchIdentifier(local)
      : performer.identifier && ODS_SYSTEMS.includes(performer.identifier.system ?? '')
        ? performer.identifier
        : undefined;
  if (identifier) {
    return {
      type: 'HealthcareService',
      query: {
        'organization:Organization.identifier': identifierQuery(identifier).identifier as string,
        _count: String(SERVICES_LOOKED_AT),
      },
    };
  }
  const target = parseLocalReference(performer.reference);
  return target?.type === 'Organization'
    ? {
        type: 'HealthcareService',
        query: { organization: `Organization/${target.id}`, _count: String(SERVICES_LOOKED_AT) },
      }
    : undefined;
}

/**
 * The referrer's ODS code when the Bundle alone says it (the requester, or its PractitionerRole's
 * organisation, sent in the Bundle or named by ODS code); undefined when only the store can.
 */
export function referrerOdsCodeInBundle(referral: ReferralBundle): string | undefined {
  const inBundle = (ref: Reference | undefined): string | undefined => {
    const local = entryFor(referral, ref?.reference);
    if (local) return odsCodeOf(local.resource);
    return ref?.identifier && ODS_SYSTEMS.includes(ref.identifier.system ?? '')
      ? ref.identifier.value
      : undefined;
  };
  const requester = referral.requester?.resource;
  if (!requester) return inBundle(referral.serviceRequest.resource.requester);
  if (requester.resourceType === 'Organization') return odsCodeOf(requester);
  if (requester.resourceType === 'PractitionerRole') return inBundle(requester.organization);
  return undefined;
}

/**
 * The ODS code of the organisation the referral comes from: the requester if it is an
 * Organization, or the organisation of the requesting PractitionerRole; from the Bundle, from a
 * logical reference, or from the stored resources it points at.
 */
export async function referrerOdsCode(
  store: FhirStore,
  referral: ReferralBundle,
  resolution: Resolution,
): Promise<string | undefined> {
  const organisationCode = async (ref: Reference | undefined): Promise<string | undefined> => {
    if (!ref) return undefined;
    const local = entryFor(referral, ref.reference);
    if (local) return odsCodeOf(local.resource);
    if (ref.identifier && ODS_SYSTEMS.includes(ref.identifier.system ?? '')) return ref.identifier.value;
    const [type, id, ...rest] = ref.reference?.split('/') ?? [];
    if (type !== 'Organization' || !id || rest.length) return undefined;
    return odsCodeOf(await readIfExists(store, 'Organization', id));
  };
  const requester = referral.serviceRequest.resource.requester;
  const resource = referral.requester?.resource ?? resolution.resolved.get('requester');
  if (!resource) return organisationCode(requester);
  if (resource.resourceType === 'Organization') return odsCodeOf(resource);
  if (resource.resourceType === 'PractitionerRole') return organisationCode(resource.organization);
  return undefined;
}

/** The searches that match a referral's entries to stored resources (those not in `known`). */
export interface EntryMatching {
  searches: { type: ResourceType; query: Record<string, string> }[];
  /** The matches, given the searches' result Bundles in order. */
  apply(results: readonly Bundle[]): Map<number, Resource>;
}

export function entryMatching(
  referral: ReferralBundle,
  owner: string,
  known: ReadonlyMap<number, Resource> = new Map(),
): EntryMatching {
  const wanted = referral.entries.flatMap((entry) => {
    const identifier = matchIdentifier(entry.resource);
    return identifier && !known.has(entry.index) ? [{ entry, identifier }] : [];
  });
  return {
    // A person is matched among the sender's own records only; organisations and practitioners,
    // directory data, among all.
    searches: wanted.map(({ entry, identifier }) => ({
      type: entry.resource.resourceType,
      query:
        entry.resource.resourceType === 'Patient'
          ? { ...identifierQuery(identifier), _security: ownedBy(owner) }
          : identifierQuery(identifier),
    })),
    apply(results) {
      const matched = new Map(known);
      wanted.forEach(({ entry }, i) => {
        const resource = results[i]?.entry?.[0]?.resource;
        if (resource) matched.set(entry.index, resource);
      });
      return matched;
    },
  };
}

/** The search for a resource by an identifier (an ODS code under either spelling of its system). */
function identifierQuery(identifier: Identifier): Record<string, string> {
  const systems = ODS_SYSTEMS.includes(identifier.system ?? '') ? ODS_SYSTEMS : [identifier.system];
  return { identifier: systems.map((s) => `${s}|${identifier.value}`).join(','), _count: '2' };
}

/**
 * The performer must be a service this deployment knows: a stored Organization that provides an
 * active HealthcareService (or such a HealthcareService itself).
 */
/** Services of the receiving organisation looked at: enough to find an active one among withdrawn ones. */
const SERVICES_LOOKED_AT = 20;

async function checkReceivingService(
  store: FhirStore,
  referral: ReferralBundle,
  matched: Map<number, Resource>,
  resolved: Map<string, Resource>,
  issues: Issue[],
  /** The performer's services, when they were searched with the other look-ups. */
  found?: Bundle,
): Promise<{ reference: Reference; odsCode?: string }> {
  const { resource: sr, at } = referral.serviceRequest;
  const performerRef = sr.performer?.[0];
  const local = referral.performer;
  const performer = local ? matched.get(local.index) : resolved.get('performer[0]');
  if (!performerRef) return { reference: {} };
  const unknown = () => {
    if (!issues.some((i) => i.expression?.[0] === `${at}.performer[0]`)) {
      issues.push({
        code: 'not-found',
        diagnostics: 'The receiving service is not a social prescribing service known to this server',
        expression: [`${at}.performer[0]`],
      });
    }
    return { reference: {} };
  };
  const withdrawn = () => {
    issues.push({
      code: 'business-rule',
      diagnostics:
        'The receiving service is not taking referrals: it has been marked inactive in the directory',
      expression: [`${at}.performer[0]`],
    });
    return { reference: {} };
  };
  if (!performer) return unknown();
  if (performer.resourceType === 'HealthcareService') {
    const provider = performer.providedBy?.reference;
    if (performer.active === false) return withdrawn();
    if (!provider?.startsWith('Organization/')) return unknown();
    const organization = await readIfExists(store, 'Organization', provider.slice('Organization/'.length));
    return organization
      ? { reference: { reference: provider }, odsCode: odsCodeOf(organization) }
      : unknown();
  }
  if (performer.resourceType !== 'Organization') return unknown();
  const services =
    found ??
    (await store.search('HealthcareService', {
      organization: `Organization/${performer.id}`,
      _count: String(SERVICES_LOOKED_AT),
    }));
  const all = (services.entry ?? []).map((e) => e.resource as HealthcareService);
  if (all.some((service) => service.active !== false))
    return { reference: { reference: `Organization/${performer.id}` }, odsCode: odsCodeOf(performer) };
  return all.length ? withdrawn() : unknown();
}
