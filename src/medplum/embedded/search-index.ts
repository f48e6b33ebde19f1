import type { FhirPathAtom } from '@medplum/core';
import {
  convertToSearchableReferences,
  convertToSearchableTokens,
  evalFhirPathTyped,
  type Filter,
  globalSchema,
  LRUCache,
  Operator,
  splitSearchOnComma,
  toPeriod,
  toTypedValue,
} from '@medplum/core';
import type { Resource, SearchParameter } from '@medplum/fhirtypes';

/**
 * Secondary indexes over the current version of every stored resource, so that the searches
 * the facade runs (identifier, references, `_id`, `_tag`, status, `_lastUpdated`) cost the
 * size of their answer, not the size of the store.
 *
 * An index only narrows: it returns a superset of the resources that can match one filter,
 * and the repository still runs Medplum's own `matchesSearchRequest` on every candidate, so
 * search semantics stay exactly Medplum's. Each (type, parameter) index is built on first use
 * and maintained on every write after that, so parameters nobody searches cost nothing.
 *
 * Token parameters are keyed by lower-cased code/value (the comparison Medplum makes), reference
 * parameters by the whole reference string and, separately, by its final id segment (for
 * `subject=123` against a single-target parameter). `_lastUpdated` keeps a sorted list for
 * range comparisons.
 */
export class SearchIndex {
  private readonly keyed = new Map<string, KeyedIndex>();
  private readonly ranges = new Map<string, RangeIndex>();

  private readonly currentOf: (type: string) => ReadonlyMap<string, Resource>;

  constructor(currentOf: (type: string) => ReadonlyMap<string, Resource>) {
    this.currentOf = currentOf;
  }

  /**
   * Ids of the resources that can match every narrowable filter, or undefined when no filter
   * narrows (the caller scans the type).
   */
  candidates(type: string, filters: readonly Filter[]): Set<string> | undefined {
    const sets: Set<string>[] = [];
    for (const filter of filters) {
      const set = this.candidatesFor(type, filter);
      if (set) sets.push(set);
    }
    if (sets.length === 0) return undefined;
    sets.sort((a, b) => a.size - b.size);
    const [smallest, ...rest] = sets as [Set<string>, ...Set<string>[]];
    const result = new Set<string>();
    for (const id of smallest) {
      if (rest.every((s) => s.has(id))) result.add(id);
    }
    return result;
  }

  /** Ids of `type` whose reference parameter `code` holds exactly one of `references`. */
  referencing(type: string, code: string, references: Iterable<string>): Set<string> | undefined {
    const param = searchParam(type, code);
    if (param?.type !== 'reference') return undefined;
    const index = this.keyedIndex(type, param);
    const result = new Set<string>();
    for (const reference of references) {
      for (const id of index.ids.get(`=${reference}`) ?? []) result.add(id);
    }
    return result;
  }

  /** Brings every built index for the resource's type up to date with its new current version. */
  write(type: string, id: string, next: Resource | undefined): void {
    for (const index of this.keyed.values()) {
      if (index.type === type) index.write(id, next);
    }
    const range = this.ranges.get(type);
    if (range) range.write(id, next);
  }

  private candidatesFor(type: string, filter: Filter): Set<string> | undefined {
    if (filter.operator !== Operator.EQUALS && filter.code !== '_lastUpdated') return undefined;
    const param = searchParam(type, filter.code);
    if (!param?.expression) return undefined;
    if (filter.code === '_lastUpdated') return this.rangeIndex(type).candidates(filter);
    if (param.type === 'token') {
      const keys = tokenFilterKeys(filter.value);
      return keys && union(this.keyedIndex(type, param), keys);
    }
    if (param.type === 'reference') {
      const keys = referenceFilterKeys(param, filter);
      return keys && union(this.keyedIndex(type, param), keys);
    }
    return undefined;
  }

  private keyedIndex(type: string, param: SearchParameter): KeyedIndex {
    const name = `${type}\u0000${param.code}`;
    let index = this.keyed.get(name);
    if (!index) {
      index = new KeyedIndex(type, param);
      for (const [id, resource] of this.currentOf(type)) index.write(id, resource);
      this.keyed.set(name, index);
    }
    return index;
  }

  private rangeIndex(type: string): RangeIndex {
    let index = this.ranges.get(type);
    if (!index) {
      index = new RangeIndex();
      for (const [id, resource] of this.currentOf(type)) index.write(id, resource);
      this.ranges.set(type, index);
    }
    return index;
  }
}

const expressionCache = new LRUCache<FhirPathAtom>(1000);

function searchParam(type: string, code: string): SearchParameter | undefined {
  return globalSchema.types[type]?.searchParams?.[code];
}

function union(index: KeyedIndex, keys: string[]): Set<string> {
  const result = new Set<string>();
  for (const key of keys) {
    for (const id of index.ids.get(key) ?? []) result.add(id);
  }
  return result;
}

/**
 * Index keys a token filter can match, or undefined when it cannot narrow. Mirrors Medplum's
 * token comparison: `system|code` and `|code` and `code` all require the code to match,
 * case-insensitively; `system|` (any code) cannot use the index.
 */
function tokenFilterKeys(value: string): string[] | undefined {
  const keys: string[] = [];
  for (const part of splitSearchOnComma(value)) {
    const code = part.includes('|') ? part.split('|')[1] : part;
    if (!code) return undefined;
    keys.push(code.toLowerCase());
  }
  return keys;
}

/**
 * Index keys a reference filter can match, or undefined when it cannot narrow. `Type/id`
 * matches the whole reference; a bare id matches a reference ending in `/id`, and only for a
 * single-target parameter (otherwise Medplum matches nothing for it).
 */
function referenceFilterKeys(param: SearchParameter, filter: Filter): string[] | undefined {
  if (filter.value === '') return undefined;
  const keys: string[] = [];
  for (const part of splitSearchOnComma(filter.value)) {
    if (part.includes('/')) keys.push(`=${part}`);
    else if (param.target?.length === 1 || filter.code === '_compartment') keys.push(`~${part}`);
  }
  return keys;
}

class KeyedIndex {
  readonly ids = new Map<string, Set<string>>();
  private readonly keysById = new Map<string, string[]>();

  readonly type: string;
  private readonly param: SearchParameter;

  constructor(type: string, param: SearchParameter) {
    this.type = type;
    this.param = param;
  }

  write(id: string, resource: Resource | undefined): void {
    for (const key of this.keysById.get(id) ?? []) {
      const ids = this.ids.get(key);
      ids?.delete(id);
      if (ids?.size === 0) this.ids.delete(key);
    }
    this.keysById.delete(id);
    if (!resource) return;
    const keys = this.keysOf(resource);
    if (keys.length === 0) return;
    this.keysById.set(id, keys);
    for (const key of keys) {
      let ids = this.ids.get(key);
      if (!ids) {
        ids = new Set();
        this.ids.set(key, ids);
      }
      ids.add(id);
    }
  }

  private keysOf(resource: Resource): string[] {
    const values = evalFhirPathTyped(
      this.param.expression as string,
      [toTypedValue(resource)],
      undefined,
      expressionCache,
    );
    const keys = new Set<string>();
    if (this.param.type === 'token') {
      for (const token of convertToSearchableTokens(values)) {
        if (token.value) keys.add(token.value.toLowerCase());
      }
    } else {
      for (const reference of convertToSearchableReferences(values)) {
        if (!reference) continue;
        keys.add(`=${reference}`);
        // A chain follows `Type/id/...` by its first two segments.
        const [type, id, ...rest] = reference.split('/');
        if (rest.length) keys.add(`=${type}/${id}`);
        const slash = reference.lastIndexOf('/');
        if (slash >= 0) keys.add(`~${reference.slice(slash + 1)}`);
      }
    }
    return [...keys];
  }
}

/** `meta.lastUpdated` of every current resource of one type, sorted, for range filters. */
class RangeIndex {
  private readonly entries: { at: string; id: string }[] = [];
  private readonly atById = new Map<string, string>();

  write(id: string, resource: Resource | undefined): void {
    const previous = this.atById.get(id);
    if (previous !== undefined) {
      let i = this.lowerBound(previous);
      while (i < this.entries.length && this.entries[i]?.id !== id) i++;
      this.entries.splice(i, 1);
      this.atById.delete(id);
    }
    const at = resource?.meta?.lastUpdated && toPeriod(resource.meta.lastUpdated)?.start;
    if (!at) return;
    this.entries.splice(this.upperBound(at), 0, { at, id });
    this.atById.set(id, at);
  }

  /**
   * Ids whose instant can satisfy the comparison, with inclusive bounds so that the set is
   * never narrower than Medplum's own comparison; undefined for comparators it does not serve.
   */
  candidates(filter: Filter): Set<string> | undefined {
    const values = splitSearchOnComma(filter.value);
    const result = new Set<string>();
    for (const value of values) {
      const period = toPeriod(value);
      if (!period?.start || !period.end) return undefined;
      let from = 0;
      let to = this.entries.length;
      switch (filter.operator) {
        case Operator.EQUALS:
        case Operator.APPROXIMATELY:
          from = this.lowerBound(period.start);
          to = this.upperBound(period.end);
          break;
        case Operator.GREATER_THAN:
        case Operator.STARTS_AFTER:
          from = this.lowerBound(period.end);
          break;
        case Operator.GREATER_THAN_OR_EQUALS:
          from = this.lowerBound(period.start);
          break;
        case Operator.LESS_THAN:
        case Operator.ENDS_BEFORE:
          to = this.upperBound(period.start);
          break;
        case Operator.LESS_THAN_OR_EQUALS:
          to = this.upperBound(period.end);
          break;
        default:
          return undefined;
      }
      for (let i = from; i < to; i++) result.add((this.entries[i] as { id: string }).id);
    }
    return result;
  }

  /** First position whose instant is >= `at`. */
  private lowerBound(at: string): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as { at: string }).at < at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First position whose instant is > `at`. */
  private upperBound(at: string): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as { at: string }).at <= at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
