import { getStatus, isOperationOutcome, MedplumClient, OperationOutcomeError } from '@medplum/core';
import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import { isMissing, StoreError, UpstreamError } from './errors.ts';
import { createUpstreamFetch, type FetchLike } from './fetch.ts';

export type SearchQuery = URLSearchParams | Record<string, string>;

/**
 * The port through which everything above `src/medplum/` reaches the FHIR store. Failures come
 * out as StoreError (the request's fault, with Medplum's OperationOutcome) or UpstreamError
 * (Medplum's fault), never as raw client errors.
 */
export interface FhirStore {
  read<T extends Resource>(type: T['resourceType'], id: string): Promise<T>;
  readVersion<T extends Resource>(type: T['resourceType'], id: string, versionId: string): Promise<T>;
  history(type: ResourceType, id: string): Promise<Bundle>;
  search(type: ResourceType, query: SearchQuery): Promise<Bundle>;
  create<T extends Resource>(resource: T): Promise<T>;
  update<T extends Resource>(resource: T, options?: { ifMatchVersion?: string }): Promise<T>;
  delete(type: ResourceType, id: string): Promise<void>;
  /** Sends a batch or transaction Bundle as it is. */
  bundle(bundle: Bundle): Promise<Bundle>;
  /** Proves the store answers an authenticated request. */
  ping(): Promise<void>;
}

export interface MedplumConnection {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
  /** Transport override: the embedded store's in-process handler, or a test's mock. */
  fetch?: FetchLike;
}

/** Builds the client with the settings a server-side facade needs, for Workers and Node alike. */
export function createMedplumClient(connection: MedplumConnection): MedplumClient {
  return new MedplumClient({
    baseUrl: connection.baseUrl,
    clientId: connection.clientId,
    clientSecret: connection.clientSecret,
    fetch: createUpstreamFetch({
      timeoutMs: connection.timeoutMs,
      ...(connection.fetch ? { fetch: connection.fetch } : {}),
    }),
    // Non-idempotent writes must not be replayed blindly; callers own their retries.
    maxRetries: 0,
    // Every read goes to the store: a facade must not answer from a stale per-isolate cache.
    cacheTime: 0,
    // Without extended mode Medplum leaves out project and author internals from meta.
    extendedMode: false,
  });
}

/** How calls that are safe to repeat are retried after a failure that may pass. */
export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** Backoff before retry n (from 0) is drawn uniformly from 0 to baseMs * 2^n ("full jitter"). */
  baseMs: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 2,
  baseMs: 100,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/** The FhirStore over a MedplumClient. */
export function createMedplumStore(client: MedplumClient, policy: RetryPolicy = DEFAULT_RETRY): FhirStore {
  const safe = <T>(fn: () => Promise<T>) => withRetries(() => call(fn), policy);
  return {
    read: (type, id) => safe(() => client.readResource(type as ResourceType, id)) as never,
    readVersion: (type, id, versionId) =>
      safe(() => client.readVersion(type as ResourceType, id, versionId)) as never,
    history: (type, id) => safe(() => client.readHistory(type, id)) as Promise<Bundle>,
    search: (type, query) => safe(() => client.search(type, query)) as Promise<Bundle>,
    create: (resource) => call(() => client.createResource(resource)),
    update: (resource, options) =>
      call(() =>
        client.updateResource(
          resource,
          options?.ifMatchVersion ? { headers: { 'If-Match': `W/"${options.ifMatchVersion}"` } } : undefined,
        ),
      ),
    delete: async (type, id) => {
      await call(() => client.deleteResource(type, id));
    },
    bundle: (bundle) =>
      isSafeToRepeat(bundle)
        ? safe(() => client.executeBatch(bundle))
        : call(() => client.executeBatch(bundle)),
    ping: async () => {
      await call(() => client.search('Organization', { _count: '1', _elements: 'id' }));
    },
  };
}

/**
 * The resource, or undefined when the store says it is not there. Every other failure (the
 * store down or slow above all) is thrown as it is: an outage is never taken for an absence.
 */
export async function readIfExists<T extends Resource>(
  store: FhirStore,
  type: T['resourceType'],
  id: string,
): Promise<T | undefined> {
  try {
    return await store.read<T>(type, id);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/**
 * Several searches in one round trip (a `batch` of GET entries), their result Bundles in order.
 * A search the store refuses raises its refusal; the batch as a whole is retried like any read.
 */
export async function searchAll(
  store: FhirStore,
  searches: readonly { type: ResourceType; query: Record<string, string> }[],
): Promise<Bundle[]> {
  if (searches.length === 0) return [];
  if (searches.length === 1) {
    const [only] = searches as [{ type: ResourceType; query: Record<string, string> }];
    return [await store.search(only.type, only.query)];
  }
  const response = await store.bundle({
    resourceType: 'Bundle',
    type: 'batch',
    entry: searches.map(({ type, query }) => ({
      request: { method: 'GET', url: `${type}?${new URLSearchParams(query)}` },
    })),
  });
  return searches.map((_, i) => {
    const entry = response.entry?.[i];
    const status = Number.parseInt(entry?.response?.status ?? '', 10);
    if (entry?.resource?.resourceType === 'Bundle' && status >= 200 && status < 300) return entry.resource;
    const outcome = entry?.response?.outcome ?? { resourceType: 'OperationOutcome', issue: [] };
    if (!status || status >= 500) throw new UpstreamError('bad-gateway', status || undefined);
    throw new StoreError(status, outcome);
  });
}

/** An id no resource has: Medplum assigns random (version 4) UUIDs, never the nil one. */
const PROBE_ID = '00000000-0000-0000-0000-000000000000';

/**
 * Whether the store runs a transaction Bundle as one transaction, all or nothing. Medplum does so
 * only for a Project with the `transaction-bundles` feature: its FHIR route passes
 * `transactions: project.features?.includes('transaction-bundles')` to the router
 * (packages/server/src/fhir/routes.ts, v5.1.29), and the batch processor treats a `transaction`
 * Bundle as one only then (`isTransaction()`, packages/fhir-router/src/batch.ts): an entry that
 * fails makes the whole Bundle fail with that entry's outcome. Without it, entries are run one by
 * one and each answers for itself. The probe is a transaction of one read of a resource that is
 * not there, which changes nothing and needs only read access: as a transaction it fails 404; run
 * entry by entry it answers 200 with the entry at 404.
 */
export async function runsTransactionsAtomically(store: FhirStore): Promise<boolean> {
  try {
    await store.bundle({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ request: { method: 'GET', url: `Organization/${PROBE_ID}` } }],
    });
    return false;
  } catch (err) {
    if (err instanceof StoreError && err.refusal === 'not-found') return true;
    throw err;
  }
}

/**
 * A Bundle that may be sent again without harm: every entry a read or a create conditional on a
 * search (`ifNoneExist`). An update conditional on a version is not: if the first attempt was
 * applied and only its answer lost, the repeat fails with 412 and reports a stale version for a
 * change that was made.
 */
export function isSafeToRepeat(bundle: Bundle): boolean {
  return (bundle.entry ?? []).every(({ request }) => {
    if (!request) return false;
    if (request.method === 'GET' || request.method === 'HEAD') return true;
    return request.method === 'POST' && Boolean(request.ifNoneExist);
  });
}

/**
 * Runs a call that is safe to repeat, again after a failure that may pass (the store unreachable,
 * overloaded or answering 5xx), with jittered exponential backoff. A timeout is not retried: it
 * has used the request's time already, and the caller is told to retry instead.
 */
export async function withRetries<T>(fn: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const passing =
        err instanceof UpstreamError && ['unavailable', 'throttled', 'bad-gateway'].includes(err.failure);
      if (!passing || attempt >= policy.retries) throw err;
      await policy.sleep(policy.random() * policy.baseMs * 2 ** attempt);
    }
  }
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classify(err);
  }
}

function classify(err: unknown): Error {
  if (err instanceof UpstreamError) return err;
  const cause = err instanceof OperationOutcomeError ? err.outcome : undefined;
  if (cause && isOperationOutcome(cause)) {
    const status = getStatus(cause);
    // The store refusing the facade's own credentials is a gateway fault, not the caller's.
    if (status === 401 || status === 403) return new UpstreamError('auth', status);
    if (status >= 500) return new UpstreamError('bad-gateway', status);
    return new StoreError(status, cause);
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return new UpstreamError('timeout');
  }
  return new UpstreamError('bad-gateway');
}
