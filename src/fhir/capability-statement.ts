import { getSearchParameters } from '@medplum/core';
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceInteraction,
  CapabilityStatementRestSecurity,
  ResourceType,
} from '@medplum/fhirtypes';

/**
 * Search parameters that address the store's internals (Medplum's project and compartments, and
 * the organisation access labels): neither offered nor accepted.
 */
export const STORE_INTERNAL_SEARCH_PARAMS: readonly string[] = ['_compartment', '_project', '_security'];

export type TypeInteraction = CapabilityStatementRestResourceInteraction['code'];

/** What the service really serves for one resource type; each route module declares its own. */
export interface ResourceCapability {
  type: ResourceType;
  interactions: readonly TypeInteraction[];
  /** Advertise the type's search parameters (those the store indexes). */
  searchable?: boolean;
  profiles?: readonly string[];
  /** Operations on the type (`$name`), with their OperationDefinition's canonical URL. */
  operations?: readonly { name: string; definition: string }[];
}

export interface CapabilityOptions {
  baseUrl: string;
  software: { name: string; version: string };
  capabilities: readonly ResourceCapability[];
  systemInteractions?: readonly ('transaction' | 'batch' | 'search-system' | 'history-system')[];
  date: Date;
  /** The OAuth token endpoint when callers must authenticate (SMART Backend Services). */
  tokenUrl?: string;
}

/**
 * Builds the CapabilityStatement from the capabilities the mounted routes declare, merging
 * declarations for the same type, so /metadata can only describe what is actually served.
 */
export function buildCapabilityStatement(options: CapabilityOptions): CapabilityStatement {
  const byType = new Map<ResourceType, ResourceCapability[]>();
  for (const capability of options.capabilities) {
    byType.set(capability.type, [...(byType.get(capability.type) ?? []), capability]);
  }
  const resource = [...byType.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, declared]) => restResource(type, declared));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: options.date.toISOString(),
    kind: 'instance',
    software: options.software,
    implementation: { description: 'Social prescribing FHIR facade', url: `${options.baseUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    rest: [
      {
        mode: 'server',
        ...(options.tokenUrl ? { security: smartSecurity(options.tokenUrl) } : {}),
        resource,
        ...(options.systemInteractions?.length
          ? { interaction: options.systemInteractions.map((code) => ({ code })) }
          : {}),
      },
    ],
  };
}

function smartSecurity(tokenUrl: string): CapabilityStatementRestSecurity {
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
    description:
      'SMART Backend Services: client credentials with a signed JWT assertion (RS384 or ES384); system scopes',
    extension: [
      {
        url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
        extension: [{ url: 'token', valueUri: tokenUrl }],
      },
    ],
  };
}

function restResource(type: ResourceType, declared: ResourceCapability[]): CapabilityStatementRestResource {
  const interactions = [...new Set(declared.flatMap((d) => d.interactions))].sort();
  const profiles = [...new Set(declared.flatMap((d) => d.profiles ?? []))];
  const searchable = declared.some((d) => d.searchable);
  const operation = declared.flatMap((d) => d.operations ?? []);
  const searchParam = searchable
    ? Object.values(getSearchParameters(type) ?? {})
        .filter((sp) => !STORE_INTERNAL_SEARCH_PARAMS.includes(sp.code))
        .map((sp) => ({ name: sp.code, definition: sp.url, type: sp.type }))
        .sort((a, b) => a.name.localeCompare(b.name))
    : [];
  return {
    type,
    ...(profiles.length ? { supportedProfile: profiles } : {}),
    interaction: interactions.map((code) => ({ code })),
    versioning: 'versioned',
    readHistory: interactions.includes('vread'),
    ...(searchParam.length ? { searchParam } : {}),
    ...(operation.length
      ? { operation: operation.map((o) => ({ name: o.name, definition: o.definition })) }
      : {}),
  };
}
