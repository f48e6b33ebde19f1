import type {
  HealthcareService,
  Identifier,
  Location,
  Organization,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import { GEOHASH_TAG_SYSTEM, geohashesOf, isValidPoint } from '../fhir/geo.ts';
import { withNormalisedIdentifiers } from '../fhir/nhs-number.ts';
import type { Issue } from '../fhir/outcomes.ts';
import { profileErrors } from '../fhir/profiles.ts';
import { DIRECTORY_SYSTEM, ODS_SYSTEMS } from '../fhir/systems.ts';
import { validateBaseR4 } from '../fhir/validate.ts';
import { parseLocalReference } from '../workflow/references.ts';

/**
 * Held by an import while it runs, and by a registration while it checks and claims identifiers:
 * what an import finds stored is not changed under it.
 */
export const DIRECTORY_IMPORT_LOCK = 'DirectoryImport';

/** What the directory holds: organisations, their services, and where the services are offered. */
export const DIRECTORY_TYPES = ['Organization', 'HealthcareService', 'Location'] as const;
export type DirectoryType = (typeof DIRECTORY_TYPES)[number];
export type DirectoryResource = Organization | HealthcareService | Location;

export function isDirectoryType(type: string): type is DirectoryType {
  return (DIRECTORY_TYPES as readonly string[]).includes(type);
}

/**
 * Identifiers that name one directory entry of a type, so no two entries may share one: ODS code,
 * charity and company numbers for organisations; the Open Referral UK id for each type.
 */
export const UNIQUE_IDENTIFIER_SYSTEMS: Readonly<Record<DirectoryType, readonly string[]>> = {
  Organization: [
    ...ODS_SYSTEMS,
    DIRECTORY_SYSTEM.charityNumber,
    DIRECTORY_SYSTEM.companyNumber,
    DIRECTORY_SYSTEM.orukOrganization,
  ],
  HealthcareService: [DIRECTORY_SYSTEM.orukService],
  Location: [DIRECTORY_SYSTEM.orukLocation],
};

/** The identifiers of a resource that must be unique within its type. */
export function uniqueIdentifiers(resource: DirectoryResource): Identifier[] {
  const systems = UNIQUE_IDENTIFIER_SYSTEMS[resource.resourceType];
  return (resource.identifier ?? []).filter((i) => i.value && i.system && systems.includes(i.system));
}

/** What a FHIR id may be (https://hl7.org/fhir/R4/datatypes.html#id). */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A directory reference to another stored entry, which must exist (and, for a service, be active). */
export interface DirectoryLink {
  type: DirectoryType;
  id: string;
  expression: string;
}

/**
 * Everything wrong with a directory resource on its own: base R4, its profile, and the rules the
 * profiles cannot say (an organisation is identified; references name stored entries by id).
 * Returns the references it names, for the caller to check they exist.
 */
export function directoryIssues(
  resource: DirectoryResource,
  /** Other identifier systems that identify an organisation (an imported feed's own). */
  identifyingSystems: readonly string[] = [],
): {
  /** Not base R4: the request is malformed, and nothing else is checked. */
  malformed: Issue[];
  issues: Issue[];
  links: DirectoryLink[];
} {
  const malformed = validateBaseR4(resource);
  if (malformed.length) return { malformed, issues: [], links: [] };
  const issues = profileErrors(resource, []);
  const links: DirectoryLink[] = [];
  const link = (ref: Reference | undefined, type: DirectoryType, expression: string) => {
    if (!ref) return;
    const target = parseLocalReference(ref.reference);
    if (target?.type === type && FHIR_ID.test(target.id)) links.push({ type, id: target.id, expression });
    else if (!issues.some((i) => i.expression?.includes(expression)))
      issues.push({
        code: 'value',
        diagnostics: `A reference to a stored ${type} (${type}/{id})`,
        expression: [expression],
      });
  };
  switch (resource.resourceType) {
    case 'Organization':
      if (
        uniqueIdentifiers(resource).length === 0 &&
        !resource.identifier?.some((i) => i.value && identifyingSystems.includes(i.system ?? ''))
      ) {
        issues.push({
          code: 'required',
          diagnostics:
            'An organisation in the directory is identified by ODS code, charity number, company number or Open Referral id',
          expression: ['Organization.identifier'],
        });
      }
      break;
    case 'HealthcareService':
      link(resource.providedBy, 'Organization', 'HealthcareService.providedBy');
      resource.location?.forEach((ref, i) => {
        link(ref, 'Location', `HealthcareService.location[${i}]`);
      });
      break;
    case 'Location':
      link(resource.managingOrganization, 'Organization', 'Location.managingOrganization');
      break;
  }
  return { malformed, issues, links };
}

/**
 * The resource as the directory stores it: a Location tagged with the geohash cells holding its
 * position (what `near` searches by), any such tags sent in dropped first.
 */
export function prepareForStore<T extends DirectoryResource>(given: T): T {
  // ODS codes are stored in upper case, as referrals match them.
  const resource = withNormalisedIdentifiers(given);
  if (resource.resourceType !== 'Location') return resource;
  const tags = (resource.meta?.tag ?? []).filter((t) => t.system !== GEOHASH_TAG_SYSTEM);
  const position = resource.position;
  if (isValidPoint(position)) {
    tags.push(...geohashesOf(position).map((code) => ({ system: GEOHASH_TAG_SYSTEM, code })));
  }
  const { tag: _old, ...meta } = resource.meta ?? {};
  return { ...resource, meta: { ...meta, ...(tags.length ? { tag: tags } : {}) } } as T;
}

/** The resource without what only the store may set (id, version, dates): as a create sends it. */
export function forCreate<T extends Resource>(resource: T): T {
  const { id: _id, meta, ...rest } = resource;
  const kept = {
    ...(meta?.profile ? { profile: meta.profile } : {}),
    ...(meta?.tag ? { tag: meta.tag } : {}),
  };
  return { ...rest, ...(Object.keys(kept).length ? { meta: kept } : {}) } as T;
}
