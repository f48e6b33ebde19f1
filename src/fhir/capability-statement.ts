import { getSearchParameters } from '@medplum/core';
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceInteraction,
  CapabilityStatementRestResourceSearchParam,
  CapabilityStatementRestSecurity,
  ResourceType,
} from '@medplum/fhirtypes';

/**
 * Search parameters that address the store's internals (Medplum's project and compartments, and
 * the organisation access labels): neither offered nor accepted.
 */
export const STORE_INTERNAL_SEARCH_PARAMS: readonly string[] = ['_compartment', '_project', '_security'];

/**
 * Parameter types the store answers. Composite and special ones (`near`) are refused by the
 * search parser before they reach it, so they are never declared.
 */
const ANSWERED_SEARCH_TYPES: readonly string[] = [
  'number',
  'date',
  'string',
  'token',
  'reference',
  'quantity',
  'uri',
];

export type TypeInteraction = CapabilityStatementRestResourceInteraction['code'];

/** One search parameter as the statement declares it. */
export interface SearchParamCapability {
  name: string;
  type: CapabilityStatementRestResourceSearchParam['type'];
  definition: string;
  /** For a reference: the types it may point at (what `_revinclude` can come from). */
  target?: readonly string[];
}

/** What the service really serves for one resource type; each route module declares its own. */
export interface ResourceCapability {
  type: ResourceType;
  interactions: readonly TypeInteraction[];
  /** Advertise the type's search parameters the store answers. */
  searchable?: boolean;
  /** Search parameters the routes answer themselves rather than the store. */
  searchParams?: readonly SearchParamCapability[];
  /**
   * The type is published by the service, not stored, and its routes answer for it: what the
   * store's routes declare of it (their search parameters, conditional reads) does not hold.
   */
  published?: boolean;
  profiles?: readonly string[];
  /** Operations on the type (`$name`), with their OperationDefinition's canonical URL. */
  operations?: readonly { name: string; definition: string }[];
  /**
   * Interactions another declaration makes for this type that do not answer for it here (the
   * store's history of a type the store does not hold): left out of the statement.
   */
  withdraws?: readonly TypeInteraction[];
  /** Creates honour `If-None-Exist` (https://hl7.org/fhir/R4/http.html#ccreate). */
  conditionalCreate?: boolean;
  /** Reads answer 304 to `If-None-Match` and `If-Modified-Since` (https://hl7.org/fhir/R4/http.html#cread). */
  conditionalRead?: boolean;
}

export interface CapabilityOptions {
  baseUrl: string;
  software: { name: string; version: string };
  capabilities: readonly ResourceCapability[];
  systemInteractions?: readonly ('transaction' | 'batch' | 'search-system' | 'history-system')[];
  date: Date;
  /** The OAuth token endpoint when callers must authenticate (SMART Backend Services). */
  tokenUrl?: string;
  /** What the security description adds about scopes, with the token endpoint. */
  scopeNote?: string;
  /** Whether browsers at other origins are let in (CORS origins are configured). */
  cors?: boolean;
  /**
   * Whether this deployment lets anyone use the interaction at all (the open local mode never
   * grants AuditEvent); what no caller may use is not declared.
   */
  granted?: (type: ResourceType, interaction: TypeInteraction) => boolean;
}

/** The store's search parameters for a type, as declared: only those it answers. */
export function storeSearchParams(type: ResourceType): SearchParamCapability[] {
  return Object.values(getSearchParameters(type) ?? {})
    .filter(
      (sp) => !STORE_INTERNAL_SEARCH_PARAMS.includes(sp.code) && ANSWERED_SEARCH_TYPES.includes(sp.type),
    )
    .map((sp) => ({
      name: sp.code,
      type: sp.type,
      // Medplum builds `_id`, `_tag`, ... per type without a URL; R4 defines them on Resource.
      definition: sp.url ?? `http://hl7.org/fhir/SearchParameter/Resource-${sp.code.slice(1)}`,
      ...(sp.target ? { target: sp.target } : {}),
    }));
}

/** The declarations of each type, merged: what is served of it, types in order. */
function mergeAll(
  capabilities: readonly ResourceCapability[],
  granted: NonNullable<CapabilityOptions['granted']>,
): Merged[] {
  const byType = new Map<ResourceType, ResourceCapability[]>();
  for (const capability of capabilities) {
    byType.set(capability.type, [...(byType.get(capability.type) ?? []), capability]);
  }
  return [...byType.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, declared]) => merge(type, declared, granted))
    .filter((r) => r.interactions.length || r.operations.length || r.profiles.length);
}

/** The interactions served on each type, once what is withdrawn is left out: what the statement declares. */
export function servedInteractions(
  capabilities: readonly ResourceCapability[],
): { type: ResourceType; interactions: readonly TypeInteraction[] }[] {
  return mergeAll(capabilities, () => true).map(({ type, interactions }) => ({ type, interactions }));
}

/**
 * Builds the CapabilityStatement from the capabilities the mounted routes declare, merging
 * declarations for the same type, so /metadata can only describe what is actually served.
 */
export function buildCapabilityStatement(options: CapabilityOptions): CapabilityStatement {
  const merged = mergeAll(options.capabilities, options.granted ?? (() => true));
  const security: CapabilityStatementRestSecurity = {
    ...(options.cors ? { cors: true } : {}),
    ...(options.tokenUrl ? smartSecurity(options.tokenUrl, options.scopeNote) : {}),
  };
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: options.date.toISOString(),
    kind: 'instance',
    software: options.software,
    implementation: { description: 'Social prescribing FHIR facade', url: `${options.baseUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    ...(merged.some((r) => r.interactions.includes('patch'))
      ? { patchFormat: ['application/json-patch+json'] }
      : {}),
    rest: [
      {
        mode: 'server',
        ...(Object.keys(security).length ? { security } : {}),
        resource: merged.map((r) => restResource(r, merged)),
        ...(options.systemInteractions?.length
          ? { interaction: options.systemInteractions.map((code) => ({ code })) }
          : {}),
      },
    ],
  };
}

function smartSecurity(tokenUrl: string, scopeNote?: string): CapabilityStatementRestSecurity {
  return {
    service: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
            code: 'SMART-on-FHIR',
          },
        ],
      },
    ],
    description: [
      'SMART Backend Services: client credentials with a signed JWT assertion (RS384 or ES384); system scopes',
      ...(scopeNote ? [scopeNote] : []),
    ].join('. '),
    extension: [
      {
        url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
        extension: [{ url: 'token', valueUri: tokenUrl }],
      },
    ],
  };
}

/** Everything declared for one type, after what is withdrawn or granted to no one. */
interface Merged {
  type: ResourceType;
  interactions: TypeInteraction[];
  /** Searched in the store, which alone answers `_include` and `_revinclude`. */
  storeSearched: boolean;
  searchParams: SearchParamCapability[];
  profiles: string[];
  operations: { name: string; definition: string }[];
  conditionalCreate: boolean;
  conditionalRead: boolean;
}

function merge(
  type: ResourceType,
  declared: ResourceCapability[],
  granted: NonNullable<CapabilityOptions['granted']>,
): Merged {
  const withdrawn = new Set(declared.flatMap((d) => d.withdraws ?? []));
  const interactions = [...new Set(declared.flatMap((d) => d.interactions))]
    .filter((code) => !withdrawn.has(code) && granted(type, code))
    .sort();
  const searchParams = new Map<string, SearchParamCapability>();
  const searched = interactions.includes('search-type');
  const published = declared.some((d) => d.published);
  const storeSearched = searched && !published && declared.some((d) => d.searchable);
  if (searched) {
    for (const d of declared) {
      for (const sp of [
        ...(d.searchParams ?? []),
        ...(d.searchable && storeSearched ? storeSearchParams(type) : []),
      ]) {
        searchParams.set(sp.name, sp);
      }
    }
  }
  const operations = new Map(declared.flatMap((d) => d.operations ?? []).map((o) => [o.name, o]));
  return {
    type,
    interactions,
    storeSearched,
    searchParams: [...searchParams.values()].sort((a, b) => a.name.localeCompare(b.name)),
    profiles: [...new Set(declared.flatMap((d) => d.profiles ?? []))],
    operations: [...operations.values()],
    conditionalCreate: interactions.includes('create') && declared.some((d) => d.conditionalCreate),
    conditionalRead: interactions.includes('read') && !published && declared.some((d) => d.conditionalRead),
  };
}

/**
 * One type's entry. `_include` values are its own reference parameters; `_revinclude` values are
 * the reference parameters of searchable types that may point at it.
 */
function restResource(r: Merged, all: readonly Merged[]): CapabilityStatementRestResource {
  const references = (m: Merged) =>
    m.storeSearched ? m.searchParams.filter((sp) => sp.type === 'reference') : [];
  const searchInclude = references(r).map((sp) => `${r.type}:${sp.name}`);
  const searchRevInclude = r.storeSearched
    ? all
        .flatMap((m) =>
          references(m)
            .filter((sp) => sp.target?.includes(r.type))
            .map((sp) => `${m.type}:${sp.name}`),
        )
        .sort()
    : [];
  // Every update and patch here needs If-Match (requireIfMatch), which R4 calls versioned-update.
  const versionedUpdate = r.interactions.includes('update') || r.interactions.includes('patch');
  return {
    type: r.type,
    ...(r.profiles.length ? { supportedProfile: r.profiles } : {}),
    ...(versionedUpdate
      ? {
          documentation:
            'Updates and patches need If-Match with the version they were made against (the ETag of a read): without it they are refused with 428, so that no change is made over another unseen.',
        }
      : {}),
    // FHIR JSON has no empty arrays: a type offering operations alone has no interaction.
    ...(r.interactions.length ? { interaction: r.interactions.map((code) => ({ code })) } : {}),
    versioning: versionedUpdate
      ? 'versioned-update'
      : r.interactions.includes('vread')
        ? 'versioned'
        : 'no-version',
    readHistory: r.interactions.includes('vread'),
    ...(r.interactions.includes('create') ? { conditionalCreate: r.conditionalCreate } : {}),
    ...(r.conditionalRead ? { conditionalRead: 'full-support' } : {}),
    ...(searchInclude.length ? { searchInclude } : {}),
    ...(searchRevInclude.length ? { searchRevInclude } : {}),
    ...(r.searchParams.length
      ? { searchParam: r.searchParams.map(({ name, definition, type }) => ({ name, definition, type })) }
      : {}),
    ...(r.operations.length ? { operation: r.operations } : {}),
  };
}
