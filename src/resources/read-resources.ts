import { getSearchParameter, parseSearchRequest } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { isVisible, scopedQuery, visibleEntries } from '../auth/tenancy.ts';
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
export async function readResource(
  store: FhirStore,
  ctx: RequestContext,
  type: string,
  id: string,
): Promise<Resource> {
  const served = servedType(type);
  authorize(ctx.principal, served, 'r');
  const resource = await store.read(served, id);
  if (!isVisible(ctx.principal, resource)) throw Failures.notFound();
  ctx.touched.push(`${served}/${id}`);
  return toPublicResource(resource);
}

/** Reads one version of a resource, if the resource and that version are the caller's to see. */
export async function readResourceVersion(
  store: FhirStore,
  ctx: RequestContext,
  type: string,
  id: string,
  versionId: string,
): Promise<Resource> {
  const served = servedType(type);
  authorize(ctx.principal, served, 'r');
  if (!isVisible(ctx.principal, await store.read(served, id))) throw Failures.notFound();
  const version = await store.readVersion(served, id, versionId);
  if (!isVisible(ctx.principal, version)) throw Failures.notFound();
  ctx.touched.push(`${served}/${id}`);
  return toPublicResource(version);
}

/** The version history of one resource, newest first: the versions the caller may see. */
export async function readResourceHistory(
  store: FhirStore,
  ctx: RequestContext,
  type: string,
  id: string,
  baseUrl: string,
): Promise<Bundle> {
  const served = servedType(type);
  authorize(ctx.principal, served, 'r');
  if (!isVisible(ctx.principal, await store.read(served, id))) throw Failures.notFound();
  const history = visibleEntries(ctx.principal, await store.history(served, id));
  ctx.touched.push(`${served}/${id}`);
  return toFacadeBundle(history, { baseUrl, path: `${type}/${id}/_history`, query: new URLSearchParams() });
}

/**
 * Searches one resource type, passing the caller's parameters to the store with the page size
 * bounded, and returns a Bundle whose links lead back to this service.
 */
export async function searchResources(
  store: FhirStore,
  ctx: RequestContext,
  type: string,
  params: URLSearchParams,
  baseUrl: string,
): Promise<Bundle> {
  const resourceType = servedType(type);
  authorize(ctx.principal, resourceType, 's');
  // An iterated include walks on from resources the store includes and this service then
  // withholds, so what it reaches could tell about them: not offered to a tenant.
  if (ctx.principal.organization !== undefined) {
    for (const key of params.keys()) {
      if (/^_(rev)?include:iterate$/.test(key)) {
        throw Failures.badRequest(`${key} is not supported`, [key]);
      }
    }
  }
  const query = new URLSearchParams();
  for (const [key, value] of params) {
    assertSupportedParam(resourceType, key);
    assertValueForm(resourceType, key, value);
    if (!RESPONSE_ONLY_PARAMS.includes(key) && key !== '_count' && key !== '_offset')
      query.append(key, value);
  }
  query.set('_count', String(pageSize(params.get('_count'))));
  const offset = Number(params.get('_offset') ?? 0);
  if (!Number.isInteger(offset) || offset < 0) {
    throw Failures.badRequest('_offset must be a non-negative integer', ['_offset']);
  }
  if (offset > 0) query.set('_offset', String(offset));
  const bundle = visibleEntries(
    ctx.principal,
    await store.search(resourceType, scopedQuery(ctx.principal, resourceType, query)),
  );
  for (const entry of bundle.entry ?? []) {
    ctx.touched.push(`${entry.resource?.resourceType}/${entry.resource?.id}`);
  }
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
  // Internal parameters are refused anywhere in a key, chains and `_has` included.
  const internal = key.split(/[:.]/).find((part) => STORE_INTERNAL_SEARCH_PARAMS.includes(part));
  if (internal) throw Failures.badRequest(`Search parameter ${internal} is not supported`, [internal]);
  const code = key.split(':')[0]?.split('.')[0] ?? key;
  if (RESPONSE_ONLY_PARAMS.includes(code) || CONTROL_PARAMS.includes(code)) return;
  if (STORE_INTERNAL_SEARCH_PARAMS.includes(code) || !getSearchParameter(type, code)) {
    throw Failures.badRequest(`Search parameter ${code} is not supported for ${type}`, [code]);
  }
}

/**
 * Refuses a value of the wrong form for its parameter's type (a date that is not a date), as
 * Medplum's own search parser judges it, naming the parameter but never echoing the value.
 */
function assertValueForm(type: ServedResourceType, key: string, value: string): void {
  const code = key.split(':')[0]?.split('.')[0] ?? key;
  if (code.startsWith('_') && !['_id', '_lastUpdated'].includes(code)) return;
  try {
    parseSearchRequest(type, { [key]: value });
  } catch {
    throw Failures.badRequest(`The value of ${code} is not of the form its type takes`, [code]);
  }
}

function pageSize(requested: string | null): number {
  if (requested === null) return DEFAULT_PAGE_SIZE;
  const n = Number(requested);
  if (!Number.isInteger(n) || n < 0)
    throw Failures.badRequest('_count must be a non-negative integer', ['_count']);
  return Math.min(n, MAX_PAGE_SIZE);
}
