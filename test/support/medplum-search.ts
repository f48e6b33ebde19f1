import {
  badRequest,
  DEFAULT_MAX_SEARCH_COUNT,
  DEFAULT_SEARCH_COUNT,
  deepClone,
  evalFhirPath,
  type Filter,
  formatSearchQuery,
  getDataType,
  getSearchParameter,
  matchesSearchRequest,
  OperationOutcomeError,
  Operator,
  parseSearchRequest,
  type SearchRequest,
  type SortRule,
  subsetResource,
  type WithId,
} from '@medplum/core';
import { getExtraEntries } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, BundleLink, Reference, Resource } from '@medplum/fhirtypes';
import { textOrIdentifierMatcher } from '../../src/medplum/embedded/text-and-identifier.ts';
import type { FakeMedplumRepository } from './medplum-repository.ts';

/**
 * A search as Medplum's server answers it (packages/server/src/fhir/search.ts, v5.1.29,
 * `searchImpl`): at most `_count` matches (20 unless asked, 1000 at most) from `_offset`, each with
 * its full URL and `search.mode`, then `_include` and `_revinclude`; `total` only when
 * `_total=accurate` (or `estimate`) is asked; links `self`, and, when the page has entries, `first`,
 * `next` while more match and `previous` after the first page. Offset links only: Medplum's cursor
 * links (for `_sort=_lastUpdated` pages of 20 or more) are not used by the facade.
 */
export async function searchRows(repo: FakeMedplumRepository, request: SearchRequest): Promise<Bundle> {
  const count = Math.min(request.count ?? DEFAULT_SEARCH_COUNT, DEFAULT_MAX_SEARCH_COUNT);
  const offset = request.offset ?? 0;
  const paged = { ...request, count, offset };
  const matches = searchMatching(repo, request);
  let entry: BundleEntry[] | undefined;
  let more = false;
  if (count > 0) {
    const page = matches.slice(offset, offset + count).map((r) => deepClone(r));
    more = matches.length > offset + count;
    entry = page.map((resource) => ({
      fullUrl: repo.fullUrl(resource.resourceType, resource.id),
      search: { mode: 'match' },
      resource,
    }));
    if (request.include || request.revInclude) {
      await getExtraEntries(repo, request, page, entry, { fullUrl: (type, id) => repo.fullUrl(type, id) });
    }
    if (request.fields) {
      for (const e of entry)
        subsetResource(e.resource, [...mandatory(e.resource), ...(request.fields ?? [])]);
    }
  }
  const url = (page: SearchRequest) =>
    `${repo.baseUrl}fhir/R4/${request.resourceType}${formatSearchQuery(page)}`;
  const link: BundleLink[] = [{ relation: 'self', url: url(paged) }];
  if (count > 0 && entry?.length) {
    link.push({ relation: 'first', url: url({ ...paged, offset: 0 }) });
    if (more) link.push({ relation: 'next', url: url({ ...paged, offset: offset + count }) });
    if (offset > 0)
      link.push({ relation: 'previous', url: url({ ...paged, offset: Math.max(0, offset - count) }) });
  }
  const counted = request.total === 'accurate' || request.total === 'estimate';
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(entry ? { entry } : {}),
    ...(counted ? { total: matches.length } : {}),
    link,
  };
}

/** Every current resource matching the search's filters (forward chains included), sorted. */
export function searchMatching(repo: FakeMedplumRepository, request: SearchRequest): WithId<Resource>[] {
  const plain: Filter[] = [];
  const chains: ((resource: Resource) => boolean)[] = [];
  for (const filter of request.filters ?? []) {
    const chain = chainOf(repo, request.resourceType, filter);
    // Strings and identifiers as Postgres matches them (prefix, case-sensitive identifiers): the
    // semantics checked against a real Medplum server, where Medplum's in-memory matcher differs.
    const postgres = chain ? undefined : textOrIdentifierMatcher(request.resourceType, filter);
    if (chain) chains.push(chain);
    else if (postgres) chains.push(postgres);
    else plain.push(filter);
  }
  const base: SearchRequest = { resourceType: request.resourceType, filters: plain };
  const found = repo
    .currentOfType(request.resourceType)
    .filter((r) => matchesSearchRequest(r, base) && chains.every((matches) => matches(r)));
  return sortBy(found, request.sortRules ?? []);
}

/**
 * A forward chain such as `organization:Organization.identifier=...`: the resources whose
 * reference parameter points at a resource matching the rest. Medplum answers a chain in SQL;
 * here the targets are searched first.
 */
function chainOf(
  repo: FakeMedplumRepository,
  resourceType: string,
  filter: Filter,
): ((resource: Resource) => boolean) | undefined {
  const dot = filter.code.indexOf('.');
  if (dot < 0 || filter.code.startsWith('_has:')) return undefined;
  const [code = '', explicitType] = filter.code.slice(0, dot).split(':');
  const param = getSearchParameter(resourceType, code);
  const targetType = explicitType ?? (param?.target?.length === 1 ? param.target[0] : undefined);
  if (param?.type !== 'reference' || !param.expression || !targetType) {
    throw new OperationOutcomeError(badRequest(`Invalid chained search parameter: ${filter.code}`));
  }
  const targets = new Set(
    searchMatching(repo, parseSearchRequest(targetType, { [filter.code.slice(dot + 1)]: filter.value })).map(
      (r) => `${r.resourceType}/${r.id}`,
    ),
  );
  const expression = param.expression;
  const matches = (resource: Resource) =>
    (evalFhirPath(expression, resource) as (Reference | undefined)[]).some(
      (ref) => ref?.reference !== undefined && targets.has(ref.reference),
    );
  return filter.operator === Operator.NOT_EQUALS ? (r) => !matches(r) : matches;
}

/** Sorts by each rule in turn, on the first value of the rule's parameter; ties keep their order. */
function sortBy(resources: WithId<Resource>[], rules: readonly SortRule[]): WithId<Resource>[] {
  if (rules.length === 0) return resources;
  const keyOf = (resource: Resource, rule: SortRule): string => {
    const expression = getSearchParameter(resource.resourceType, rule.code)?.expression;
    const value = expression ? evalFhirPath(expression, resource)[0] : undefined;
    return value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  };
  return [...resources].sort((a, b) => {
    for (const rule of rules) {
      const order = keyOf(a, rule).localeCompare(keyOf(b, rule));
      if (order !== 0) return rule.descending ? -order : order;
    }
    return 0;
  });
}

/** Elements `_elements` always keeps: those every resource of the type must have. */
function mandatory(resource: Resource | undefined): string[] {
  return resource ? [...(getDataType(resource.resourceType).mandatoryProperties ?? [])] : [];
}
