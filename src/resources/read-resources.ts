import { getSearchParameter } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { STORE_INTERNAL_SEARCH_PARAMS } from '../fhir/capability-statement.ts';
import { Failures } from '../fhir/outcomes.ts';
import { toFacadeBundle, toPublicResource } from '../fhir/public-view.ts';
import { isReadableResourceType, type ServedResourceType } from '../fhir/resource-types.ts';
import type { FhirStore } from '../medplum/store.ts';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** Parameters that shape the HTTP response, not the search; never forwarded to the store. */
const RESPONSE_ONLY_PARAMS = ['_format', '_pretty'];

function servedType(type: string): ServedResourceType {
  if (!isReadableResourceType(type)) throw Failures.unsupportedType(type);
  return type;
}

/** Reads one resource by id. */
export async function readResource(store: FhirStore, type: string, id: string): Promise<Resource> {
  return toPublicResource(await store.read(servedType(type), id));
}

/** Reads one version of a resource. */
export async function readResourceVersion(
  store: FhirStore,
  type: string,
  id: string,
  versionId: string,
): Promise<Resource> {
  return toPublicResource(await store.readVersion(servedType(type), id, versionId));
}

/** The version history of one resource, newest first. */
export async function readResourceHistory(
  store: FhirStore,
  type: string,
  id: string,
  baseUrl: string,
): Promise<Bundle> {
  const history = await store.history(servedType(type), id);
  return toFacadeBundle(history, { baseUrl, path: `${type}/${id}/_history`, query: new URLSearchParams() });
}

/**
 * Searches one resource type, passing the caller's parameters to the store with the page size
 * bounded, and returns a Bundle whose links lead back to this service.
 */
export async function searchResources(
  store: FhirStore,
  type: string,
  params: URLSearchParams,
  baseUrl: string,
): Promise<Bundle> {
  const resourceType = servedType(type);
  const query = new URLSearchParams();
  for (const [key, value] of params) {
    assertSupportedParam(resourceType, key);
    if (!RESPONSE_ONLY_PARAMS.includes(key) && key !== '_count' && key !== '_offset')
      query.append(key, value);
  }
  query.set('_count', String(pageSize(params.get('_count'))));
  const offset = Number(params.get('_offset') ?? 0);
  if (!Number.isInteger(offset) || offset < 0) {
    throw Failures.badRequest('_offset must be a non-negative integer', ['_offset']);
  }
  if (offset > 0) query.set('_offset', String(offset));
  const bundle = await store.search(resourceType, query);
  return toFacadeBundle(bundle, { baseUrl, path: resourceType, query });
}

/** Result-shaping parameters the facade passes on (https://hl7.org/fhir/R4/search.html#all). */
const CONTROL_PARAMS = [
  '_count',
  '_offset',
  '_sort',
  '_include',
  '_revinclude',
  '_elements',
  '_summary',
  '_total',
];

/**
 * Refuses a parameter the type does not define rather than letting a store ignore it (Medplum's
 * in-memory repository does, and would answer an unfiltered search).
 */
function assertSupportedParam(type: ServedResourceType, key: string): void {
  const code = key.split(':')[0]?.split('.')[0] ?? key;
  if (RESPONSE_ONLY_PARAMS.includes(code) || CONTROL_PARAMS.includes(code)) return;
  if (STORE_INTERNAL_SEARCH_PARAMS.includes(code) || !getSearchParameter(type, code)) {
    throw Failures.badRequest(`Search parameter ${code} is not supported for ${type}`, [code]);
  }
}

function pageSize(requested: string | null): number {
  if (requested === null) return DEFAULT_PAGE_SIZE;
  const n = Number(requested);
  if (!Number.isInteger(n) || n < 0)
    throw Failures.badRequest('_count must be a non-negative integer', ['_count']);
  return Math.min(n, MAX_PAGE_SIZE);
}
