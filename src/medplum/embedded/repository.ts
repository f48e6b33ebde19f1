import {
  applyPatch,
  badRequest,
  deepClone,
  evalFhirPath,
  type Filter,
  fhirpathPatchTypedValue,
  generateId,
  globalSchema,
  matchesSearchRequest,
  normalizeOperationOutcome,
  notFound,
  type Operation,
  OperationOutcomeError,
  Operator,
  parseFhirPathPatchParameters,
  parseSearchRequest,
  preconditionFailed,
  type SearchRequest,
  type SortRule,
  stringify,
  toTypedValue,
  type WithId,
} from '@medplum/core';
import {
  type CreateResourceOptions,
  type DeleteResourceOptions,
  FhirRepository,
  getExtraEntries,
  type ReadHistoryOptions,
  type UpdateResourceOptions,
} from '@medplum/fhir-router';
import type { Bundle, BundleEntry, Parameters, Reference, Resource, ResourceType } from '@medplum/fhirtypes';
import { Journal, type JournalChange, type JournalLocation } from './journal.ts';
import { SearchIndex } from './search-index.ts';

/** What one write or transaction changed, so that it can be undone in memory if it fails. */
interface PendingWrite {
  changes: JournalChange[];
  undo: { type: string; id: string; previous: Resource | undefined; ordinal: number | undefined }[];
}

/**
 * The embedded Medplum's repository: Medplum's `FhirRepository` contract (the one its
 * `FhirRouter` drives, as `MemoryRepository` does), with
 *  - searches narrowed by secondary indexes ({@link SearchIndex}) and then matched with Medplum's
 *    own `matchesSearchRequest`, so results are Medplum's and cost grows with the answer, not the store;
 *  - every write made durable in a {@link Journal} (SQLite) before it is acknowledged;
 *  - real transactions: a FHIR transaction Bundle, and every conditional create/update, runs
 *    under one write lock and is committed to the journal in one piece or rolled back.
 * The current version of every resource is held in memory (read at start-up); older versions
 * are read from the journal when history or vread asks for them.
 */
export class EmbeddedRepository extends FhirRepository {
  private readonly resources = new Map<string, Map<string, Resource>>();
  private readonly ordinals = new Map<string, number>();
  private readonly counter = { next: 1 };
  private readonly index = new SearchIndex((type) => this.resources.get(type) ?? new Map());
  private readonly lock = new WriteLock();
  /** Set only on the view a transaction's callback receives. */
  private pending: PendingWrite | undefined;

  private readonly journal: Journal;

  private constructor(journal: Journal) {
    super();
    this.journal = journal;
    for (const row of journal.current()) {
      this.typeMap(row.type).set(row.id, JSON.parse(row.content) as Resource);
      this.ordinals.set(key(row.type, row.id), row.ordinal);
      this.counter.next = Math.max(this.counter.next, row.ordinal + 1);
    }
  }

  /** Opens the store at a data directory (created if missing), or a throwaway one in memory. */
  static open(location: JournalLocation = 'memory'): EmbeddedRepository {
    return new EmbeddedRepository(Journal.open(location));
  }

  getMeta(name: string): string | undefined {
    return this.journal.getMeta(name);
  }

  setMeta(name: string, value: string): void {
    this.journal.setMeta(name, value);
  }

  close(): void {
    this.journal.close();
  }

  setMode(): void {
    // One store; no reader/writer split.
  }

  generateId(): string {
    return generateId();
  }

  // ---- writes -------------------------------------------------------------------------------

  async createResource<T extends Resource>(
    resource: T,
    _options?: CreateResourceOptions,
    update = false,
  ): Promise<WithId<T>> {
    return this.write((pending) => {
      const parsed = JSON.parse(stringify(resource)) as T;
      const id = parsed.id ?? this.generateId();
      if (!update && this.typeMap(parsed.resourceType).has(id)) {
        throw new OperationOutcomeError(badRequest('Assigned ID is already in use'));
      }
      const meta = { ...parsed.meta, versionId: this.generateId(), lastUpdated: new Date().toISOString() };
      const stored = { ...parsed, id, meta } as WithId<T>;
      this.apply(pending, stored.resourceType, id, stored);
      return deepClone(stored);
    });
  }

  async updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    if (!resource.id) throw new OperationOutcomeError(badRequest('Missing id'));
    const id = resource.id;
    return this.write(async (pending) => {
      if (options?.ifMatch) {
        const existing = this.typeMap(resource.resourceType).get(id);
        if (!existing) throw new OperationOutcomeError(notFound);
        if (existing.meta?.versionId !== options.ifMatch) throw new OperationOutcomeError(preconditionFailed);
      }
      return this.withPending(pending).createResource(resource, undefined, true);
    });
  }

  async patchResource<T extends Resource>(
    resourceType: T['resourceType'],
    id: string,
    patch: Operation[] | Parameters,
    options?: UpdateResourceOptions,
  ): Promise<WithId<T>> {
    return this.write(async (pending) => {
      const resource = await this.readResource<T>(resourceType, id);
      try {
        if (Array.isArray(patch)) {
          const errors = applyPatch(resource, patch).filter(Boolean);
          if (errors.length > 0) {
            throw new OperationOutcomeError(badRequest(errors.map((e) => (e as Error).message).join('\n')));
          }
        } else if (patch.parameter) {
          fhirpathPatchTypedValue(toTypedValue(resource), parseFhirPathPatchParameters(patch));
        }
      } catch (err) {
        throw new OperationOutcomeError(normalizeOperationOutcome(err));
      }
      return this.withPending(pending).updateResource(resource, options);
    });
  }

  async deleteResource(resourceType: string, id: string, options?: DeleteResourceOptions): Promise<void> {
    return this.write((pending) => {
      const existing = this.typeMap(resourceType).get(id);
      if (!existing) throw new OperationOutcomeError(notFound);
      if (options?.ifMatch && existing.meta?.versionId !== options.ifMatch) {
        throw new OperationOutcomeError(preconditionFailed);
      }
      this.apply(pending, resourceType, id, undefined, 'delete');
    });
  }

  async expungeResource(resourceType: string, id: string): Promise<void> {
    await this.expungeResources(resourceType, [id]);
  }

  async expungeResources(resourceType: string, ids: string[]): Promise<void> {
    return this.write((pending) => {
      for (const id of ids) this.apply(pending, resourceType, id, undefined, 'expunge');
    });
  }

  withTransaction<TResult>(callback: (txRepo: this) => Promise<TResult>): Promise<TResult> {
    if (this.pending) return callback(this);
    return this.lock.run(async () => {
      const pending: PendingWrite = { changes: [], undo: [] };
      try {
        const result = await callback(this.withPending(pending));
        this.journal.commit(pending.changes);
        return result;
      } catch (err) {
        this.rollback(pending);
        throw err;
      }
    });
  }

  // ---- reads --------------------------------------------------------------------------------

  async readResource<T extends Resource>(resourceType: string, id: string): Promise<WithId<T>> {
    const resource = this.resources.get(resourceType)?.get(id);
    if (!resource) throw new OperationOutcomeError(notFound);
    return deepClone(resource) as WithId<T>;
  }

  async readReference<T extends Resource>(reference: Reference<T>): Promise<WithId<T>> {
    const parts = reference.reference?.split('/');
    if (parts?.length !== 2) throw new OperationOutcomeError(badRequest('Invalid reference'));
    return this.readResource(parts[0] as string, parts[1] as string);
  }

  async readReferences<T extends Resource>(references: readonly Reference<T>[]): Promise<(T | Error)[]> {
    return Promise.all(
      references.map((r) =>
        this.readReference<T>(r).catch((err: unknown) =>
          err instanceof OperationOutcomeError
            ? err
            : new OperationOutcomeError(normalizeOperationOutcome(err)),
        ),
      ),
    );
  }

  async readHistory<T extends Resource>(
    resourceType: string,
    id: string,
    options?: ReadHistoryOptions,
  ): Promise<Bundle<WithId<T>>> {
    await this.readResource(resourceType, id);
    const entry = this.journal
      .history(resourceType, id, options?.offset, options?.limit)
      .map((content) => ({ resource: JSON.parse(content) as WithId<T> }));
    return { resourceType: 'Bundle', type: 'history', ...(entry.length ? { entry } : undefined) };
  }

  async readVersion<T extends Resource>(
    resourceType: string,
    id: string,
    versionId: string,
  ): Promise<WithId<T>> {
    await this.readResource(resourceType, id);
    const content = this.journal.version(resourceType, id, versionId);
    if (!content) throw new OperationOutcomeError(notFound);
    return JSON.parse(content) as WithId<T>;
  }

  async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    const { matches, total } = this.find(searchRequest, true);
    const entries: BundleEntry[] = matches.map((resource) => ({
      search: { mode: 'match' },
      resource: deepClone(resource),
    }));
    if ((searchRequest.include || searchRequest.revInclude) && entries.length) {
      // `total` counts the matches only.
      const resources = entries.map((e) => e.resource as WithId<T>);
      await getExtraEntries(this, searchRequest, resources, entries);
    }
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: entries.length ? (entries as BundleEntry<WithId<T>>[]) : undefined,
      total,
    };
  }

  async searchByReference<T extends Resource>(
    searchRequest: SearchRequest<T>,
    referenceField: string,
    references: string[],
  ): Promise<Record<string, WithId<T>[]>> {
    const results: Record<string, WithId<T>[]> = {};
    for (const reference of references) {
      const filters = [
        ...(searchRequest.filters ?? []),
        { code: referenceField, operator: Operator.EQUALS, value: reference },
      ];
      const bundle = await this.search({ ...searchRequest, filters });
      results[reference] = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
    }
    return results;
  }

  // ---- internals ----------------------------------------------------------------------------

  /**
   * The matching current resources, in creation order unless sorted, paged when `paged`.
   * Filters are matched by Medplum's `matchesSearchRequest`; the index only picks candidates.
   */
  private find(searchRequest: SearchRequest, paged: boolean): { matches: WithId<Resource>[]; total: number } {
    const { resourceType } = searchRequest;
    const all = this.resources.get(resourceType) ?? new Map<string, Resource>();
    const plain: Filter[] = [];
    const chains: Chain[] = [];
    for (const filter of searchRequest.filters ?? []) {
      const chain = parseChain(resourceType, filter);
      if (chain) chains.push(chain);
      else plain.push(filter);
    }
    const base = chains.length ? { ...searchRequest, filters: plain } : searchRequest;

    const sets: Set<string>[] = [];
    const narrowed = this.index.candidates(resourceType, plain);
    if (narrowed) sets.push(narrowed);
    for (const chain of chains) {
      chain.targets = new Set(
        this.find(
          { resourceType: chain.targetType as ResourceType, filters: chain.filters },
          false,
        ).matches.map((r) => `${r.resourceType}/${r.id}`),
      );
      const referencing = this.index.referencing(resourceType, chain.code, chain.targets);
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
        .sort((a, b) => this.ordinalOf(a) - this.ordinalOf(b));
    }

    let matches: WithId<Resource>[] = [];
    for (const resource of candidates) {
      if (matchesSearchRequest(resource, base) && chains.every((c) => matchesChain(resource, c))) {
        matches.push(resource as WithId<Resource>);
      }
    }
    const total = matches.length;
    if (searchRequest.sortRules?.length) matches = sortBy(matches, searchRequest.sortRules);
    if (paged && searchRequest.offset !== undefined) matches = matches.slice(searchRequest.offset);
    if (paged && searchRequest.count !== undefined) matches = matches.slice(0, searchRequest.count);
    return { matches, total };
  }

  private async write<R>(fn: (pending: PendingWrite) => R | Promise<R>): Promise<R> {
    if (this.pending) return fn(this.pending);
    return this.lock.run(async () => {
      const pending: PendingWrite = { changes: [], undo: [] };
      try {
        const result = await fn(pending);
        this.journal.commit(pending.changes);
        return result;
      } catch (err) {
        this.rollback(pending);
        throw err;
      }
    });
  }

  /** A view of this repository whose writes join `pending` instead of committing on their own. */
  private withPending(pending: PendingWrite): this {
    const view = Object.create(this) as this;
    view.pending = pending;
    return view;
  }

  private apply(
    pending: PendingWrite,
    type: string,
    id: string,
    next: Resource | undefined,
    removal: 'delete' | 'expunge' = 'delete',
  ): void {
    const previous = this.resources.get(type)?.get(id);
    const ordinal = this.ordinals.get(key(type, id));
    pending.undo.push({ type, id, previous, ordinal });
    if (next) {
      const nextOrdinal = ordinal ?? this.counter.next++;
      this.setCurrent(type, id, next, nextOrdinal);
      pending.changes.push({
        kind: 'put',
        type,
        id,
        ordinal: nextOrdinal,
        versionId: next.meta?.versionId as string,
        content: JSON.stringify(next),
      });
    } else {
      this.setCurrent(type, id, undefined, undefined);
      pending.changes.push({ kind: removal, type, id });
    }
  }

  private rollback(pending: PendingWrite): void {
    for (const { type, id, previous, ordinal } of pending.undo.reverse()) {
      this.setCurrent(type, id, previous, ordinal);
    }
  }

  private setCurrent(
    type: string,
    id: string,
    resource: Resource | undefined,
    ordinal: number | undefined,
  ): void {
    const map = this.typeMap(type);
    if (resource && ordinal !== undefined) {
      map.set(id, resource);
      this.ordinals.set(key(type, id), ordinal);
    } else {
      map.delete(id);
      this.ordinals.delete(key(type, id));
    }
    this.index.write(type, id, resource);
  }

  private typeMap(type: string): Map<string, Resource> {
    let map = this.resources.get(type);
    if (!map) {
      map = new Map();
      this.resources.set(type, map);
    }
    return map;
  }

  private ordinalOf(resource: Resource): number {
    return this.ordinals.get(key(resource.resourceType, resource.id as string)) ?? 0;
  }
}

const key = (type: string, id: string) => `${type}/${id}`;

/** Serialises writers; readers never wait. */
class WriteLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** A forward-chained filter such as `subject:Patient.identifier=...`. */
interface Chain {
  code: string;
  expression: string;
  targetType: string;
  filters: Filter[];
  targets?: Set<string>;
}

/**
 * Recognises a forward chain the way Medplum's in-memory repository does: only `=`, an explicit
 * `:Type` unless the reference parameter has a single target; `_has` is not a chain.
 */
function parseChain(resourceType: string, filter: Filter): Chain | undefined {
  const dot = filter.code.indexOf('.');
  if (dot < 0 || filter.code.startsWith('_has:')) return undefined;
  if (filter.operator !== Operator.EQUALS) {
    throw new OperationOutcomeError(badRequest('Chained search supports only equality'));
  }
  const left = filter.code.slice(0, dot);
  const colon = left.indexOf(':');
  const code = colon < 0 ? left : left.slice(0, colon);
  const param = globalSchema.types[resourceType]?.searchParams?.[code];
  if (colon < 0 && param?.target?.length !== 1) {
    throw new OperationOutcomeError(
      badRequest(`Unable to identify next resource type for search parameter: ${resourceType}?${code}`),
    );
  }
  const targetType = colon < 0 ? param?.target?.[0] : left.slice(colon + 1);
  if (!param?.expression || !targetType) return undefined;
  const chained = parseSearchRequest(targetType, { [filter.code.slice(dot + 1)]: filter.value });
  return { code, expression: param.expression, targetType, filters: chained.filters ?? [] };
}

function matchesChain(resource: Resource, chain: Chain): boolean {
  for (const value of evalFhirPath(chain.expression, resource) as (Reference | undefined)[]) {
    const [type, id] = value?.reference?.split('/') ?? [];
    if (type === chain.targetType && id && chain.targets?.has(`${type}/${id}`)) return true;
  }
  return false;
}

/**
 * Sorts by each rule in order of precedence (the first rule decides, later ones break ties),
 * comparing the same rendering of the sort parameter's values that Medplum's in-memory
 * repository compares; each resource's keys are computed once.
 */
function sortBy<T extends Resource>(resources: T[], rules: readonly SortRule[]): T[] {
  const keyed = resources.map((resource) => ({
    resource,
    keys: rules.map((rule) => {
      const expression = globalSchema.types[resource.resourceType]?.searchParams?.[rule.code]?.expression;
      return expression ? JSON.stringify(evalFhirPath(expression, resource)) : undefined;
    }),
  }));
  keyed.sort((a, b) => {
    for (let i = 0; i < rules.length; i++) {
      const x = a.keys[i];
      const y = b.keys[i];
      if (x === undefined || y === undefined) continue;
      const order = x.localeCompare(y) * (rules[i]?.descending ? -1 : 1);
      if (order !== 0) return order;
    }
    return 0;
  });
  return keyed.map((k) => k.resource);
}
