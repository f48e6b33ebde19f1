import { getStatus, isOperationOutcome, MedplumClient, OperationOutcomeError } from '@medplum/core';
import type { Bundle, OperationOutcome, Resource, ResourceType } from '@medplum/fhirtypes';
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
  /**
   * Sends a batch or transaction Bundle as it is. A transaction writing several entries is sent
   * only to a store that runs it all or nothing, and so is one with `whole` (a step of a write
   * whose other steps would be refused there); otherwise it fails as `no-transactions`.
   */
  bundle(bundle: Bundle, options?: { whole?: boolean }): Promise<Bundle>;
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

/** How calls are retried after a failure that may pass. */
export interface RetryPolicy {
  /** Attempts after the first, for a call that is safe to repeat. */
  retries: number;
  /**
   * Attempts after the first for a write the store rolled back because it lost to concurrent
   * ones (CONTENTION_RETRIES unless given): such a write applied nothing, so any write may be
   * repeated, and under load it takes more than two.
   */
  contentionRetries?: number;
  /** Backoff before retry n (from 0) is drawn uniformly from 0 to baseMs * 2^n ("full jitter"). */
  baseMs: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export const CONTENTION_RETRIES = 6;

/** The longest backoff drawn from: a retry later than this would outlast a caller's patience. */
export const MAX_BACKOFF_MS = 2_000;

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 2,
  baseMs: 100,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/**
 * How long what was learnt of the store's transactions is trusted before it is checked again:
 * that they are atomic (rechecked now and then, as a Project's features may change), or that
 * they run entry by entry (rechecked sooner, so writes resume soon after the feature is added).
 */
export interface TransactionCheck {
  atomicForMs: number;
  partialForMs: number;
  now: () => number;
}

export const DEFAULT_TRANSACTION_CHECK: TransactionCheck = {
  atomicForMs: 5 * 60_000,
  partialForMs: 30_000,
  now: () => Date.now(),
};

/**
 * The FhirStore over a MedplumClient. A transaction Bundle that writes more than one entry is
 * sent only to a store known to run it all or nothing (see {@link runsTransactionsAtomically}):
 * what the store does is learnt from the probe (readiness runs it too) or from a transaction
 * answered entry by entry, and otherwise the write fails as `no-transactions` without being sent.
 */
export function createMedplumStore(
  client: MedplumClient,
  policy: RetryPolicy = DEFAULT_RETRY,
  check: TransactionCheck = DEFAULT_TRANSACTION_CHECK,
): FhirStore {
  const safe = <T>(fn: () => Promise<T>) => withRetries(() => call(fn), policy);
  // Any write may be repeated after the store rolled it back; nothing else is retried for it.
  const write = <T>(fn: () => Promise<T>) => withRetries(() => call(fn), policy, isContention);

  let learnt: { atomic: boolean; at: number } | undefined;
  let probe: Promise<boolean> | undefined;
  const learn = (atomic: boolean) => {
    learnt = { atomic, at: check.now() };
  };
  const current = () =>
    learnt !== undefined &&
    check.now() - learnt.at < (learnt.atomic ? check.atomicForMs : check.partialForMs);
  const requireAtomic = async () => {
    if (!current()) {
      probe ??= runsTransactionsAtomically(store).finally(() => {
        probe = undefined;
      });
      await probe;
    }
    if (learnt && !learnt.atomic) throw new UpstreamError('no-transactions');
  };

  const store: FhirStore = {
    read: (type, id) => safe(() => client.readResource(type as ResourceType, id)) as never,
    readVersion: (type, id, versionId) =>
      safe(() => client.readVersion(type as ResourceType, id, versionId)) as never,
    history: (type, id) => safe(() => client.readHistory(type, id)) as Promise<Bundle>,
    search: (type, query) => safe(() => client.search(type, query)) as Promise<Bundle>,
    create: (resource) => write(() => client.createResource(resource)),
    update: (resource, options) =>
      write(() =>
        client.updateResource(
          resource,
          options?.ifMatchVersion ? { headers: { 'If-Match': `W/"${options.ifMatchVersion}"` } } : undefined,
        ),
      ),
    delete: async (type, id) => {
      await write(() => client.deleteResource(type, id));
    },
    bundle: async (bundle, options) => {
      const transaction = bundle.type === 'transaction';
      const dependent =
        transaction && (writesSeveral(bundle) || (options?.whole === true && writesAny(bundle)));
      if (dependent) await requireAtomic();
      let response: Bundle;
      try {
        response = await (isSafeToRepeat(bundle) ? safe : write)(() => client.executeBatch(bundle));
      } catch (err) {
        // Only a transaction run whole fails whole for an entry that reads nothing.
        if (transaction && !writesAny(bundle) && err instanceof StoreError && err.refusal === 'not-found') {
          learn(true);
        }
        throw err;
      }
      // Only a store that runs the entries one by one answers a transaction with an entry failed.
      if (transaction && (response.entry ?? []).some((e) => !e.response?.status?.startsWith('2'))) {
        learn(false);
        if (dependent) throw new UpstreamError('no-transactions');
      }
      if (bundle.type === 'batch') {
        return resendContended(bundle, response, policy, (again) => call(() => client.executeBatch(again)));
      }
      return response;
    },
    ping: async () => {
      await call(() => client.search('Organization', { _count: '1', _elements: 'id' }));
    },
  };
  return store;
}

/**
 * A batch answered with entries the store rolled back for contention (a conditional create runs
 * as a serializable transaction of its own, and loses to concurrent ones as a transaction Bundle
 * does): those entries applied nothing, so they are sent again, in a batch of their own, with the
 * same backoff as any write lost to contention, and their answers put in place. When some are
 * still rolled back after the retries the call fails as `contention`, though the other entries
 * stand (a batch is not all or nothing).
 */
async function resendContended(
  bundle: Bundle,
  response: Bundle,
  policy: RetryPolicy,
  send: (bundle: Bundle) => Promise<Bundle>,
): Promise<Bundle> {
  const entries = [...(response.entry ?? [])];
  const retries = policy.contentionRetries ?? CONTENTION_RETRIES;
  for (let attempt = 0; ; attempt++) {
    const contended = entries.flatMap((entry, i) => {
      const outcome = entry?.response?.outcome;
      return entry?.response?.status?.startsWith('409') && outcome && rolledBackForContention(outcome)
        ? [i]
        : [];
    });
    if (contended.length === 0) return { ...response, entry: entries };
    if (attempt >= retries) throw new UpstreamError('contention', 409);
    await policy.sleep(policy.random() * Math.min(MAX_BACKOFF_MS, policy.baseMs * 2 ** attempt));
    const again = await send({ ...bundle, entry: contended.map((i) => bundle.entry?.[i] ?? {}) });
    contended.forEach((at, k) => {
      entries[at] = again.entry?.[k] ?? { response: { status: '500' } };
    });
  }
}

const isRead = (method: string | undefined) => method === 'GET' || method === 'HEAD';
const writesAny = (bundle: Bundle) => (bundle.entry ?? []).some((e) => !isRead(e.request?.method));
/** Writes whose entries may depend on each other: what only an atomic transaction keeps whole. */
const writesSeveral = (bundle: Bundle) => (bundle.entry?.length ?? 0) > 1 && writesAny(bundle);

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

/** A failure that may pass: the store unreachable, overloaded, failing, or losing to concurrent writes. */
export const mayPass = (err: UpstreamError): boolean =>
  ['unavailable', 'throttled', 'bad-gateway', 'contention'].includes(err.failure);

/** A write the store rolled back because concurrent ones won: nothing of it was applied. */
export const isContention = (err: UpstreamError): boolean => err.failure === 'contention';

/**
 * Runs a call again after a failure `retryable` says may pass (by default the store unreachable,
 * overloaded, answering 5xx or rolling the call back for contention: for calls that are safe to
 * repeat), with jittered exponential backoff. A timeout is not retried: it has used the request's
 * time already, and the caller is told to retry instead.
 */
export async function withRetries<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy,
  retryable: (err: UpstreamError) => boolean = mayPass,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof UpstreamError) || !retryable(err)) throw err;
      const retries = isContention(err) ? (policy.contentionRetries ?? CONTENTION_RETRIES) : policy.retries;
      if (attempt >= retries) throw err;
      await policy.sleep(policy.random() * Math.min(MAX_BACKOFF_MS, policy.baseMs * 2 ** attempt));
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
    // Medplum answers a transaction that lost to concurrent ones 409, as it does a real conflict.
    if (status === 409 && rolledBackForContention(cause)) return new UpstreamError('contention', status);
    if (status >= 500) return new UpstreamError('bad-gateway', status);
    return new StoreError(status, cause);
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return new UpstreamError('timeout');
  }
  return new UpstreamError('bad-gateway');
}

/**
 * PostgreSQL's codes for a transaction rolled back because concurrent ones won: a serialization
 * failure (Medplum answers 409 with it once its own two retries of a serializable transaction have
 * failed) and a deadlock.
 */
const CONTENTION_CODES: ReadonlySet<string> = new Set(['40001', '40P01']);

function rolledBackForContention(outcome: OperationOutcome): boolean {
  return (outcome.issue ?? []).some((issue) =>
    issue.details?.coding?.some((coding) => coding.code !== undefined && CONTENTION_CODES.has(coding.code)),
  );
}
