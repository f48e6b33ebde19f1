import { type Filter, matchesSearchRequest, type SearchRequest, type WithId } from '@medplum/core';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import { type Chain, matchesChain, parseChain } from './chained-search.ts';
import type { CurrentVersions } from './current-versions.ts';
import { sortBy } from './sort.ts';
import { textOrIdentifierMatcher } from './text-and-identifier.ts';

/**
 * The matching current resources, in creation order unless sorted, paged when `paged`.
 * Filters are matched by Medplum's `matchesSearchRequest`; the index only picks candidates.
 */
export function findCurrent(
  current: CurrentVersions,
  searchRequest: SearchRequest,
  paged: boolean,
): { matches: WithId<Resource>[]; total: number } {
  const { resourceType } = searchRequest;
  const all = current.ofType(resourceType);
  const plain: Filter[] = [];
  const chains: Chain[] = [];
  const own: ((resource: Resource) => boolean)[] = [];
  const medplums: Filter[] = [];
  for (const filter of searchRequest.filters ?? []) {
    const chain = parseChain(resourceType, filter);
    if (chain) {
      chains.push(chain);
      continue;
    }
    plain.push(filter);
    const matcher = textOrIdentifierMatcher(resourceType, filter);
    if (matcher) own.push(matcher);
    else medplums.push(filter);
  }
  // Strings and identifiers are matched as Medplum's Postgres matches them; the rest by Medplum's
  // in-memory matcher.
  const base = { ...searchRequest, filters: medplums };

  const sets: Set<string>[] = [];
  const narrowed = current.index.candidates(resourceType, plain);
  if (narrowed) sets.push(narrowed);
  for (const chain of chains) {
    chain.targets = new Set(
      findCurrent(
        current,
        { resourceType: chain.targetType as ResourceType, filters: chain.filters },
        false,
      ).matches.map((r) => `${r.resourceType}/${r.id}`),
    );
    const referencing = current.index.referencing(resourceType, chain.code, chain.targets);
    if (referencing) sets.push(referencing);
  }

  let candidates: Iterable<Resource>;
  if (sets.length === 0) {
    candidates = all.values();
  } else {
    const [first, ...rest] = sets.sort((a, b) => a.size - b.size) as [Set<string>, ...Set<string>[]];
    candidates = [...first]
      .filter((id) => rest.every((s) => s.has(id)))
      .flatMap((id) => {
        const resource = all.get(id);
        return resource ? [resource] : [];
      })
      .sort((a, b) => current.ordinalOf(a) - current.ordinalOf(b));
  }

  let matches: WithId<Resource>[] = [];
  for (const resource of candidates) {
    if (
      matchesSearchRequest(resource, base) &&
      own.every((m) => m(resource)) &&
      chains.every((c) => matchesChain(resource, c))
    ) {
      matches.push(resource as WithId<Resource>);
    }
  }
  const total = matches.length;
  if (searchRequest.sortRules?.length) matches = sortBy(matches, searchRequest.sortRules);
  if (paged && searchRequest.offset !== undefined) matches = matches.slice(searchRequest.offset);
  if (paged && searchRequest.count !== undefined) matches = matches.slice(0, searchRequest.count);
  return { matches, total };
}
