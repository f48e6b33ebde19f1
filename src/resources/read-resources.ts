import { getSearchParameter } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import {
  isLabelled,
  isPersonalData,
  isVisible,
  noteDisclosures,
  scopedQuery,
  visibleEntries,
} from '../auth/tenancy.ts';
import { dateRangeSearch } from '../fhir/date-search.ts';
import { Failures } from '../fhir/outcomes.ts';
import { pagingParam } from '../fhir/paging.ts';
import { toFacadeBundle, toPublicResource } from '../fhir/public-view.ts';
import { isReadableResourceType, type ServedResourceType } from '../fhir/resource-types.ts';
import {
  assertReadParams,
  type CheckedParam,
  checkSearchParam,
  ignoredParametersNote,
  RESPONSE_PARAMS,
  UnsupportedParameter,
} from '../fhir/search-values.ts';
import { applySubset, parseSubset } from '../fhir/subset.ts';
import type { FhirStore } from '../medplum/store.ts';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

function servedType(type: string): ServedResourceType {
  if (!isReadableResourceType(type)) throw Failures.unsupportedType(type);
  return type;
}

/** Reads one resource by id, with only the elements asked for (`_summary`, `_elements`). */
export async function readResource(
  store: FhirStore,
  ctx: RequestContext,
  type: string,
  id: string,
  params: URLSearchParams = new URLSearchParams(),
): Promise<Resource> {
  const served = servedType(type);
  authorize(ctx.principal, served, 'r');
  assertReadParams(params);
  const subset = parseSubset(params, false, served);
  const resource = await store.read(served, id);
  if (!isVisible(ctx.principal, resource)) throw Failures.notFound();
  ctx.touched.push(`${served}/${id}`);
  noteDisclosures(ctx, [resource]);
  return applySubset(toPublicResource(resource), subset);
}

/** Reads one version of a resource, if the resource and that version are the caller's to see. */
export async function readResourceVersion(
  store: FhirStore,
  ctx: RequestContext,
  type: string,
  id: string,
  versionId: string,
  params: URLSearchParams = new URLSearchParams(),
): Promise<Resource> {
  const served = servedType(type);
  authorize(ctx.principal, served, 'r');
  assertReadParams(params);
  const subset = parseSubset(params, false, served);
  if (!isVisible(ctx.principal, await store.read(served, id))) throw Failures.notFound();
  const version = await store.readVersion(served, id, versionId);
  if (!isVisible(ctx.principal, version)) throw Failures.notFound();
  ctx.touched.push(`${served}/${id}`);
  noteDisclosures(ctx, [version]);
  return applySubset(toPublicResource(version), subset);
}

/**
 * The version history of one resource, newest first: the versions the caller may see, each with
 * the interaction that made it (R4 bdl-3, bdl-4), narrowed by `_since` and `_at` and paged by
 * `_count` and `_offset` (https://hl7.org/fhir/R4/http.html#history).
 */
export async function readResourceHistory(
  store: FhirStore,
  ctx: RequestContext,
  type: string,
  id: string,
  baseUrl: string,
  params: URLSearchParams = new URLSearchParams(),
): Promise<Bundle> {
  const served = servedType(type);
  authorize(ctx.principal, served, 'r');
  const query = historyQuery(params);
  if (!isVisible(ctx.principal, await store.read(served, id))) throw Failures.notFound();
  const history = visibleEntries(ctx.principal, await store.history(served, id));
  ctx.touched.push(`${served}/${id}`);
  noteDisclosures(
    ctx,
    (history.entry ?? []).map((e) => e.resource),
  );
  const page = pageOfHistory(withInteractions(history, `${served}/${id}`), query);
  return toFacadeBundle(page, { baseUrl, path: `${type}/${id}/_history`, query: query.forLinks });
}

/** How a search treats a parameter it does not know or support. */
export interface SearchHandling {
  /**
   * `Prefer: handling=lenient`: such a parameter is left out, said so in the answer and its
   * self link; otherwise (`strict`, the default) it is refused.
   */
  lenient?: boolean;
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
  handling: SearchHandling = {},
): Promise<Bundle> {
  const resourceType = servedType(type);
  authorize(ctx.principal, resourceType, 's');
  // An iterated include walks on from resources the store includes and this service then
  // withholds, so what it reaches could tell about them: not offered to a tenant. Nor is a chain
  // into personal data: the store narrows the searched type, not the type a chain reaches, so
  // `subject:Patient.birthdate=` would test another organisation's record.
  if (ctx.principal.organization !== undefined) {
    for (const key of params.keys()) {
      if (/^_(rev)?include:iterate$/.test(key)) {
        throw Failures.badRequest(`${key} is not supported`, [key]);
      }
      const reached = firstLabelled(chainTargets(resourceType, key));
      if (reached)
        throw Failures.badRequest(`A chained search into ${reached} is not offered`, [
          key.split('.')[0] as string,
        ]);
    }
  }
  const subset = parseSubset(params, true, resourceType);
  // The query as the caller asked it (for the paging links) and as the store is asked it.
  const query = new URLSearchParams();
  const storeQuery = new URLSearchParams();
  const ignored: string[] = [];
  for (const [key, value] of params) {
    const checked = checkLeniently(resourceType, key, value, handling, ignored);
    if (!checked) continue;
    // Past its first link, a chain may reach personal data through a type that is not.
    const reached = firstLabelled(checked.reaches);
    if (reached && ctx.principal.organization !== undefined)
      throw Failures.badRequest(`A chained search into ${reached} is not offered`, [
        key.split(/[:.]/)[0] as string,
      ]);
    if (!checked.forStore) continue;
    query.append(key, value);
    const range = dateRangeSearch(resourceType, key, value);
    if (range) for (const pair of range) storeQuery.append(...pair);
    else storeQuery.append(...checked.forStore);
  }
  query.set('_count', String(pageSize(params)));
  storeQuery.set('_count', query.get('_count') as string);
  const offset = pagingParam(params, '_offset', 0);
  if (offset > 0) {
    query.set('_offset', String(offset));
    storeQuery.set('_offset', String(offset));
  }
  // A count is the total alone, counted by the store over what the caller may see.
  if (subset.summary === 'count') {
    storeQuery.set('_count', '0');
    storeQuery.set('_total', 'accurate');
  }
  const found = visibleEntries(
    ctx.principal,
    await store.search(resourceType, scopedQuery(ctx.principal, resourceType, storeQuery)),
  );
  for (const entry of found.entry ?? []) {
    ctx.touched.push(`${entry.resource?.resourceType}/${entry.resource?.id}`);
  }
  noteDisclosures(
    ctx,
    (found.entry ?? []).map((e) => e.resource),
  );
  const bundle = {
    ...found,
    ...withKnownTotal(found, offset, Number(storeQuery.get('_count'))),
    ...(found.entry
      ? {
          entry: found.entry.map((e) =>
            e.resource && e.search?.mode !== 'include'
              ? { ...e, resource: applySubset(toPublicResource(e.resource), subset) }
              : e,
          ),
        }
      : {}),
  };
  for (const [key, value] of params) if (key === '_summary' || key === '_elements') query.append(key, value);
  const answer = toFacadeBundle(bundle, { baseUrl, path: resourceType, query });
  return ignored.length
    ? { ...answer, entry: [...(answer.entry ?? []), ignoredParametersNote(ignored)] }
    : answer;
}

/** One parameter checked; under `handling=lenient`, one the service does not support is noted and left out. */
function checkLeniently(
  type: ServedResourceType,
  key: string,
  value: string,
  handling: SearchHandling,
  ignored: string[],
): CheckedParam | undefined {
  try {
    return checkSearchParam(type, key, value);
  } catch (err) {
    if (!handling.lenient || !(err instanceof UnsupportedParameter)) throw err;
    if (!ignored.includes(key)) ignored.push(key);
    return undefined;
  }
}

/**
 * A real Medplum leaves `total` out unless `_total=accurate` is asked (which costs a count). On
 * the last page it is known anyway: the matches before it and on it.
 */
function withKnownTotal(bundle: Bundle, offset: number, count: number): { total?: number } {
  if (bundle.total !== undefined || bundle.link?.some((l) => l.relation === 'next')) return {};
  const matches = (bundle.entry ?? []).filter((e) => e.search?.mode !== 'include').length;
  // An empty page past the start, or a page of none asked for, says nothing about the total.
  if (count <= 0 || (matches === 0 && offset > 0)) return {};
  return { total: offset + matches };
}

/** The first type among these seen only through labels, personal data named before the rest. */
const firstLabelled = (types: readonly string[]): string | undefined =>
  types.find(isPersonalData) ?? types.find(isLabelled);

/** The types a chained parameter (`subject:Patient.birthdate`, `subject.birthdate`) reaches. */
function chainTargets(type: ServedResourceType, key: string): string[] {
  const [head] = key.split('.');
  if (head === undefined || head === key) return [];
  const [code = '', named] = head.split(':');
  if (named) return [named];
  return getSearchParameter(type, code)?.target ?? [];
}

const HISTORY_PARAMS = ['_count', '_offset', '_since', '_at', ...RESPONSE_PARAMS];

interface HistoryQuery {
  count: number;
  offset: number;
  since?: number;
  at?: number;
  /** The query as paging links repeat it. */
  forLinks: URLSearchParams;
}

function historyQuery(params: URLSearchParams): HistoryQuery {
  for (const key of params.keys()) {
    if (!HISTORY_PARAMS.includes(key))
      throw Failures.badRequest(`${key} is not supported on _history`, [key]);
  }
  const instant = (name: string): number | undefined => {
    const value = params.get(name);
    if (value === null) return undefined;
    const time = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value)
      ? Date.parse(value)
      : Number.NaN;
    if (Number.isNaN(time)) throw Failures.badRequest(`${name} must be an instant`, [name]);
    return time;
  };
  const count = pageSize(params);
  const offset = pagingParam(params, '_offset', 0);
  const since = instant('_since');
  const at = instant('_at');
  const forLinks = new URLSearchParams();
  for (const name of ['_since', '_at']) if (params.has(name)) forLinks.set(name, params.get(name) as string);
  forLinks.set('_count', String(count));
  if (offset > 0) forLinks.set('_offset', String(offset));
  return {
    count,
    offset,
    forLinks,
    ...(since !== undefined ? { since } : {}),
    ...(at !== undefined ? { at } : {}),
  };
}

/** Each history entry with the request and response that made its version (newest first). */
function withInteractions(history: Bundle, url: string): Bundle {
  const entries = history.entry ?? [];
  return {
    ...history,
    entry: entries.map((entry, i) => {
      const deleted = !entry.resource;
      const created = i === entries.length - 1;
      const meta = entry.resource?.meta;
      return {
        ...entry,
        // Always the facade's own: stores differ (Medplum's server says GET and 200 for every
        // version, the embedded one what made it), and an answer must not depend on which.
        request: { method: deleted ? 'DELETE' : created ? 'POST' : 'PUT', url },
        response: {
          status: deleted ? '204 No Content' : created ? '201 Created' : '200 OK',
          ...(meta?.versionId ? { etag: `W/"${meta.versionId}"` } : {}),
          ...(meta?.lastUpdated ? { lastModified: meta.lastUpdated } : {}),
        },
      };
    }),
  };
}

/** The versions `_since` and `_at` select, one page of them, with the total before paging. */
function pageOfHistory(history: Bundle, query: HistoryQuery): Bundle {
  const when = (e: NonNullable<Bundle['entry']>[number]) =>
    Date.parse(e.resource?.meta?.lastUpdated ?? e.response?.lastModified ?? '');
  let entries = history.entry ?? [];
  if (query.since !== undefined) entries = entries.filter((e) => when(e) >= (query.since as number));
  if (query.at !== undefined) {
    // The version current at that instant: the newest made at or before it.
    const current = entries.find((e) => when(e) <= (query.at as number));
    entries = current ? [current] : [];
  }
  // Paged here, so the store's own paging links (if any) do not apply.
  const { entry: _all, link: _links, ...rest } = history;
  return { ...rest, total: entries.length, entry: entries.slice(query.offset, query.offset + query.count) };
}

function pageSize(params: URLSearchParams): number {
  return Math.min(pagingParam(params, '_count', DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE);
}
