import {
  allOk,
  applyPatch,
  badRequest,
  conflict,
  deepClone,
  deepEquals,
  fhirpathPatchTypedValue,
  getStatus,
  gone,
  normalizeOperationOutcome,
  notFound,
  type Operation,
  OperationOutcomeError,
  Operator,
  parseFhirPathPatchParameters,
  preconditionFailed,
  type SearchRequest,
  stringify,
  toTypedValue,
  validateResource,
  type WithId,
} from '@medplum/core';
import {
  type CreateResourceOptions,
  FhirRepository,
  type ReadHistoryOptions,
  type TransactionOptions,
  type UpdateResourceOptions,
} from '@medplum/fhir-router';
import type {
  Bundle,
  BundleEntry,
  OperationOutcome,
  Parameters,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import { searchMatching, searchRows } from './medplum-search.ts';

/** One resource as the fake keeps it: its current version (a tombstone once deleted) and history. */
interface Row {
  current: WithId<Resource>;
  deleted: boolean;
  /** Every version, oldest first; a delete is a version too. */
  versions: { resource: WithId<Resource>; deleted: boolean }[];
}

/** What a transaction changed, to be put back if it fails. */
interface Transaction {
  touched: Set<string>;
  undo: (() => void)[];
}

/** Attempts Medplum's server gives a serializable transaction before it answers 409 (repo.ts). */
const SERIALIZABLE_ATTEMPTS = 3;

/** A serializable transaction that lost to one committed while it ran (PostgreSQL's 40001). */
class SerializationFailure extends Error {}

/** Medplum's answer once a serializable transaction has lost every attempt. */
export const SERIALIZATION_FAILURE = conflict(
  'could not serialize access due to read/write dependencies among transactions',
  '40001',
);

/**
 * The storage of the fake remote Medplum: Medplum's `FhirRepository` contract held in memory, with
 * the behaviour of Medplum's Postgres repository where the facade can tell the difference
 * (packages/server/src/fhir/repo.ts, v5.1.29): the server assigns ids (a client's id is kept only
 * for an entry of a batch), every version gets a new UUID and time, a write is validated against
 * the base R4 definitions (400), an update that changes nothing makes no version, a deleted
 * resource answers 410, `ifMatch` that names an older version answers 412, history lists every
 * version newest first with its request and response and a `total`, and a transaction is all or
 * nothing. A serializable transaction (Medplum asks for one when a transaction holds a conditional
 * write) that overlapped another one committed meanwhile fails as PostgreSQL fails it, is run
 * again twice as Medplum does, and then answers 409 with the code `40001`. Searches are
 * {@link searchRows}'.
 */
export class FakeMedplumRepository extends FhirRepository {
  readonly baseUrl: string;
  private readonly rows: Map<string, Row>;
  /** Transactions run one at a time, as Medplum's serializable ones appear to. */
  private lock: Promise<unknown> = Promise.resolve();
  /** Set only on the view a transaction's callback receives. */
  private tx: Transaction | undefined;
  /** Serializable transactions committed so far: one that saw this change while it ran loses. */
  private serializableCommits = 0;
  /** Whether overlapping serializable transactions fail as on PostgreSQL (a test may turn it off). */
  serializationConflicts = true;
  /** The next this many serializable transactions lose every attempt (`Infinity`: all of them). */
  failSerializable = 0;
  /**
   * How long a serializable transaction runs before it commits, beside others (on a real server,
   * 15–30 ms of statements against PostgreSQL); 0 here, so that only queued ones overlap.
   */
  serializableMs = 0;

  constructor(baseUrl: string) {
    super();
    this.baseUrl = baseUrl;
    this.rows = new Map();
  }

  /** Stores a resource as it is given (its id and meta kept), as a project's existing data. */
  seed(resource: Resource): void {
    const id = resource.id ?? this.generateId();
    const meta = { versionId: this.generateId(), lastUpdated: new Date().toISOString(), ...resource.meta };
    const current = { ...deepClone(resource), id, meta } as WithId<Resource>;
    this.rows.set(`${resource.resourceType}/${id}`, {
      current,
      deleted: false,
      versions: [{ resource: current, deleted: false }],
    });
  }

  /** Every current resource, deleted ones left out, in the order they were first stored. */
  all(): WithId<Resource>[] {
    return [...this.rows.values()].filter((r) => !r.deleted).map((r) => deepClone(r.current));
  }

  /** The current resources of one type, for searches. */
  currentOfType(resourceType: string): WithId<Resource>[] {
    const prefix = `${resourceType}/`;
    const found: WithId<Resource>[] = [];
    for (const [key, row] of this.rows) if (key.startsWith(prefix) && !row.deleted) found.push(row.current);
    return found;
  }

  /** The full URL Medplum gives a resource in Bundles and `Location`. */
  fullUrl(resourceType: string, id: string): string {
    return `${this.baseUrl}fhir/R4/${resourceType}/${id}`;
  }

  setMode(): void {
    // One store; no reader/writer split.
  }

  generateId(): string {
    return crypto.randomUUID();
  }

  async createResource<T extends Resource>(resource: T, options?: CreateResourceOptions): Promise<WithId<T>> {
    // Medplum keeps an id only when a batch assigned it (fhir-router's createResource).
    const id = options?.assignedId && resource.id ? resource.id : this.generateId();
    if (this.rows.has(`${resource.resourceType}/${id}`)) {
      throw new OperationOutcomeError(badRequest('Assigned ID is already in use'));
    }
    return this.write({ ...resource, id }, undefined);
  }

  async updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    if (!resource.id) throw new OperationOutcomeError(badRequest('Missing id'));
    const row = this.rows.get(`${resource.resourceType}/${resource.id}`);
    // A client application may not choose ids: an update of an id never stored is not found.
    if (!row) throw new OperationOutcomeError(notFound);
    const existing = row.deleted ? undefined : row.current;
    if (existing && options?.ifMatch && existing.meta?.versionId !== options.ifMatch) {
      throw new OperationOutcomeError(preconditionFailed);
    }
    return this.write(resource as WithId<T>, existing as WithId<T> | undefined);
  }

  async patchResource<T extends Resource>(
    resourceType: T['resourceType'],
    id: string,
    patch: Operation[] | Parameters,
    options?: UpdateResourceOptions,
  ): Promise<WithId<T>> {
    const resource = await this.readResource<T>(resourceType, id);
    try {
      if (Array.isArray(patch)) {
        const errors = applyPatch(resource, patch).filter(Boolean);
        if (errors.length) throw new Error(errors.map((e) => (e as Error).message).join('\n'));
      } else {
        fhirpathPatchTypedValue(toTypedValue(resource), parseFhirPathPatchParameters(patch));
      }
    } catch (err) {
      throw new OperationOutcomeError(normalizeOperationOutcome(err));
    }
    return this.updateResource(resource, options);
  }

  async deleteResource(resourceType: string, id: string): Promise<void> {
    const key = `${resourceType}/${id}`;
    const row = this.rows.get(key);
    if (!row) throw new OperationOutcomeError(notFound);
    // Deleting what is already deleted succeeds.
    if (row.deleted) return;
    this.remember(key);
    const tombstone = {
      resourceType,
      id,
      meta: { versionId: this.generateId(), lastUpdated: new Date().toISOString() },
    } as WithId<Resource>;
    this.rows.set(key, {
      current: tombstone,
      deleted: true,
      versions: [...row.versions, { resource: tombstone, deleted: true }],
    });
  }

  async readResource<T extends Resource>(resourceType: string, id: string): Promise<WithId<T>> {
    const row = this.rows.get(`${resourceType}/${id}`);
    if (!row) throw new OperationOutcomeError(notFound);
    if (row.deleted) throw new OperationOutcomeError(gone);
    return deepClone(row.current) as WithId<T>;
  }

  async readReference<T extends Resource>(reference: Reference<T>): Promise<WithId<T>> {
    const [type, id, ...rest] = reference.reference?.split('/') ?? [];
    if (!type || !id || rest.length) throw new OperationOutcomeError(badRequest('Invalid reference'));
    return this.readResource<T>(type, id);
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
    const row = this.rows.get(`${resourceType}/${id}`);
    if (!row) throw new OperationOutcomeError(notFound);
    const offset = Math.max(0, options?.offset ?? 0);
    const page = [...row.versions].reverse().slice(offset, offset + (options?.limit ?? 100));
    const entry = page.map(({ resource, deleted }): BundleEntry<WithId<T>> => {
      const outcome: OperationOutcome = deleted
        ? {
            resourceType: 'OperationOutcome',
            id: 'gone',
            issue: [
              {
                severity: 'error',
                code: 'deleted',
                details: { text: `Deleted on ${resource.meta?.lastUpdated}` },
              },
            ],
          }
        : allOk;
      return {
        fullUrl: this.fullUrl(resourceType, id),
        request: {
          method: deleted ? 'DELETE' : 'GET',
          url: deleted
            ? `${resourceType}/${id}`
            : `${resourceType}/${id}/_history/${resource.meta?.versionId}`,
        },
        response: { status: String(getStatus(outcome)), outcome },
        ...(deleted ? {} : { resource: deepClone(resource) as WithId<T> }),
      };
    });
    return { resourceType: 'Bundle', type: 'history', entry, total: row.versions.length };
  }

  async readVersion<T extends Resource>(resourceType: string, id: string, vid: string): Promise<WithId<T>> {
    const version = this.rows
      .get(`${resourceType}/${id}`)
      ?.versions.find((v) => v.resource.meta?.versionId === vid);
    if (!version) throw new OperationOutcomeError(notFound);
    if (version.deleted) throw new OperationOutcomeError(gone);
    return deepClone(version.resource) as WithId<T>;
  }

  async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    return searchRows(this, searchRequest) as Promise<Bundle<WithId<T>>>;
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
      results[reference] = searchMatching(this, { ...searchRequest, filters } as SearchRequest).map(
        (r) => deepClone(r) as WithId<T>,
      );
    }
    return results;
  }

  /** Runs `callback` as one transaction: every write it makes is undone if it throws. */
  withTransaction<TResult>(
    callback: (txRepo: this) => Promise<TResult>,
    options?: TransactionOptions,
  ): Promise<TResult> {
    if (this.tx) return callback(this);
    return options?.serializable ? this.serializable(callback) : this.transaction(callback);
  }

  /**
   * A serializable transaction: it fails at its commit when another one committed after it began
   * (waiting for the lock here is running beside it there), and is run again, as Medplum runs it.
   */
  private async serializable<TResult>(callback: (txRepo: this) => Promise<TResult>): Promise<TResult> {
    if (this.failSerializable > 0) {
      this.failSerializable--;
      throw new OperationOutcomeError(SERIALIZATION_FAILURE);
    }
    for (let attempt = 1; ; attempt++) {
      const began = this.serializableCommits;
      if (this.serializableMs > 0) await new Promise((resolve) => setTimeout(resolve, this.serializableMs));
      try {
        return await this.transaction(callback, () => {
          if (this.serializationConflicts && this.serializableCommits !== began) {
            throw new SerializationFailure();
          }
          this.serializableCommits++;
        });
      } catch (err) {
        if (!(err instanceof SerializationFailure)) throw err;
        if (attempt >= SERIALIZABLE_ATTEMPTS) throw new OperationOutcomeError(SERIALIZATION_FAILURE);
      }
    }
  }

  private transaction<TResult>(
    callback: (txRepo: this) => Promise<TResult>,
    beforeCommit: () => void = () => {},
  ): Promise<TResult> {
    const run = this.lock.then(async () => {
      const view = Object.create(this) as this;
      const tx: Transaction = { touched: new Set(), undo: [] };
      view.tx = tx;
      try {
        const result = await callback(view);
        beforeCommit();
        return result;
      } catch (err) {
        for (const undo of tx.undo.reverse()) undo();
        throw err;
      }
    });
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Validates and stores a new version, unless it changes nothing (Medplum's isNotModified). */
  private write<T extends Resource>(resource: WithId<T>, existing: WithId<T> | undefined): WithId<T> {
    const parsed = JSON.parse(stringify(resource)) as WithId<T>;
    const meta = { ...parsed.meta, versionId: this.generateId(), lastUpdated: new Date().toISOString() };
    const stored = { ...parsed, meta } as WithId<T>;
    // Throws an OperationOutcomeError (400) listing what is wrong, as Medplum's strict mode does.
    validateResource(stored);
    if (existing && deepEquals(JSON.parse(stringify(existing)), stored)) return deepClone(existing);
    const key = `${stored.resourceType}/${stored.id}`;
    this.remember(key);
    const versions = this.rows.get(key)?.versions ?? [];
    this.rows.set(key, {
      current: stored,
      deleted: false,
      versions: [...versions, { resource: stored, deleted: false }],
    });
    return deepClone(stored);
  }

  /** In a transaction, keeps the row as it was before the transaction first changed it. */
  private remember(key: string): void {
    const tx = this.tx;
    if (!tx || tx.touched.has(key)) return;
    tx.touched.add(key);
    const before = this.rows.get(key);
    // Map.set on a key that is there keeps its place, so searches keep their order after a rollback.
    tx.undo.push(() => (before ? this.rows.set(key, before) : this.rows.delete(key)));
  }
}
