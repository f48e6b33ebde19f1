import type { DatabaseSync } from 'node:sqlite';
import {
  badRequest,
  deepClone,
  generateId,
  normalizeOperationOutcome,
  notFound,
  type Operation,
  OperationOutcomeError,
  Operator,
  type SearchRequest,
  stringify,
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
import type { Bundle, BundleEntry, Parameters, Reference, Resource } from '@medplum/fhirtypes';
import { CurrentVersions, type PendingWrite } from './current-versions.ts';
import { Journal, type JournalLocation } from './journal.ts';
import { applyResourcePatch } from './patch.ts';
import { requireVersion } from './preconditions.ts';
import { findCurrent } from './search.ts';
import { Transactions } from './transactions.ts';
import { historyBundle, readVersionFrom } from './versions.ts';

/**
 * The embedded Medplum's repository: Medplum's `FhirRepository` contract (the one its
 * `FhirRouter` drives, as `MemoryRepository` does), with
 *  - searches narrowed by secondary indexes (`SearchIndex`) and then matched with Medplum's
 *    own `matchesSearchRequest`, so results are Medplum's and cost grows with the answer, not the store;
 *  - every write made durable in a {@link Journal} (SQLite) before it is acknowledged;
 *  - real transactions: a FHIR transaction Bundle, and every conditional create/update, runs
 *    under one write lock and is committed to the journal in one piece or rolled back.
 * The current version of every resource is held in memory (read at start-up); older versions
 * are read from the journal when history or vread asks for them.
 */
export class EmbeddedRepository extends FhirRepository {
  private readonly journal: Journal;
  private readonly current: CurrentVersions;
  private readonly transactions: Transactions;
  /** Set only on the view a transaction's callback receives. */
  private pending: PendingWrite | undefined;

  private constructor(journal: Journal) {
    super();
    this.journal = journal;
    this.current = new CurrentVersions(journal.current());
    this.transactions = new Transactions(journal, this.current);
  }

  /** Opens the store at a data directory (created if missing), or a throwaway one in memory. */
  static open(location: JournalLocation = 'memory'): EmbeddedRepository {
    return new EmbeddedRepository(Journal.open(location));
  }

  getMeta(name: string): string | undefined {
    return this.journal.getMeta(name);
  }

  /** The store's SQLite database, where the outbox keeps its table beside the resources. */
  database(): DatabaseSync {
    return this.journal.database;
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
      if (!update && this.current.get(parsed.resourceType, id)) {
        throw new OperationOutcomeError(badRequest('Assigned ID is already in use'));
      }
      const meta = { ...parsed.meta, versionId: this.generateId(), lastUpdated: new Date().toISOString() };
      const stored = { ...parsed, id, meta } as WithId<T>;
      this.current.apply(pending, stored.resourceType, id, stored);
      return deepClone(stored);
    });
  }

  async updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    if (!resource.id) throw new OperationOutcomeError(badRequest('Missing id'));
    const id = resource.id;
    return this.write(async (pending) => {
      requireVersion(this.current.get(resource.resourceType, id), options?.ifMatch);
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
      applyResourcePatch(resource, patch);
      return this.withPending(pending).updateResource(resource, options);
    });
  }

  async deleteResource(resourceType: string, id: string, options?: DeleteResourceOptions): Promise<void> {
    return this.write((pending) => {
      const existing = this.current.get(resourceType, id);
      if (!existing) throw new OperationOutcomeError(notFound);
      requireVersion(existing, options?.ifMatch);
      this.current.apply(pending, resourceType, id, undefined, 'delete');
    });
  }

  async expungeResource(resourceType: string, id: string): Promise<void> {
    await this.expungeResources(resourceType, [id]);
  }

  async expungeResources(resourceType: string, ids: string[]): Promise<void> {
    return this.write((pending) => {
      for (const id of ids) this.current.apply(pending, resourceType, id, undefined, 'expunge');
    });
  }

  withTransaction<TResult>(callback: (txRepo: this) => Promise<TResult>): Promise<TResult> {
    if (this.pending) return callback(this);
    return this.transactions.run((pending) => callback(this.withPending(pending)));
  }

  // ---- reads --------------------------------------------------------------------------------

  async readResource<T extends Resource>(resourceType: string, id: string): Promise<WithId<T>> {
    const resource = this.current.get(resourceType, id);
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
    return historyBundle<T>(this.journal, resourceType, id, options);
  }

  async readVersion<T extends Resource>(
    resourceType: string,
    id: string,
    versionId: string,
  ): Promise<WithId<T>> {
    await this.readResource(resourceType, id);
    return readVersionFrom<T>(this.journal, resourceType, id, versionId);
  }

  async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    const { matches, total } = findCurrent(this.current, searchRequest, true);
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

  /** Joins the open transaction when this is a transaction's view, else runs as one of its own. */
  private async write<R>(fn: (pending: PendingWrite) => R | Promise<R>): Promise<R> {
    if (this.pending) return fn(this.pending);
    return this.transactions.run(fn);
  }

  /** A view of this repository whose writes join `pending` instead of committing on their own. */
  private withPending(pending: PendingWrite): this {
    const view = Object.create(this) as this;
    view.pending = pending;
    return view;
  }
}
