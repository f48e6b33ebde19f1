import type { Bundle } from '@medplum/fhirtypes';
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { StoreError, UpstreamError } from '../../src/medplum/errors.ts';
import {
  createMedplumClient,
  createMedplumStore,
  type FhirStore,
  isSafeToRepeat,
  type RetryPolicy,
  searchAll,
  withRetries,
} from '../../src/medplum/store.ts';
import { fakeMedplum, medplumHandlers } from '../support/medplum-handlers.ts';
import { server } from '../support/msw.ts';

const waits: number[] = [];
const policy: RetryPolicy = {
  retries: 2,
  baseMs: 100,
  sleep: async (ms) => {
    waits.push(ms);
  },
  random: () => 0.5,
};

function failing(failures: (UpstreamError | Error)[], value = 'ok') {
  let calls = 0;
  const fn = async () => {
    const failure = failures[calls++];
    if (failure) throw failure;
    return value;
  };
  return { fn, calls: () => calls };
}

describe('withRetries', () => {
  it('retries failures that may pass, with jittered exponential backoff, then succeeds', async () => {
    waits.length = 0;
    const call = failing([new UpstreamError('unavailable'), new UpstreamError('bad-gateway', 502)]);
    expect(await withRetries(call.fn, policy)).toBe('ok');
    expect(call.calls()).toBe(3);
    expect(waits).toEqual([50, 100]);
  });

  it('gives up after its retries with the last failure', async () => {
    const call = failing([1, 2, 3, 4].map(() => new UpstreamError('throttled', 429)));
    await expect(withRetries(call.fn, policy)).rejects.toMatchObject({ failure: 'throttled' });
    expect(call.calls()).toBe(3);
  });

  it.each([
    ['a timeout (it has used the time already)', new UpstreamError('timeout')],
    ['refused credentials', new UpstreamError('auth', 401)],
    ['anything else', new Error('x')],
  ])('does not retry %s', async (_name, failure) => {
    const call = failing([failure]);
    await expect(withRetries(call.fn, policy)).rejects.toBe(failure);
    expect(call.calls()).toBe(1);
  });
});

describe('isSafeToRepeat', () => {
  const bundle = (...request: NonNullable<Bundle['entry']>[number]['request'][]): Bundle => ({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: request.map((r) => ({ ...(r ? { request: r } : {}) })),
  });
  it('holds for reads and conditional creates only', () => {
    expect(
      isSafeToRepeat(
        bundle({ method: 'GET', url: 'Patient/1' }, { method: 'POST', url: 'Task', ifNoneExist: '_tag=x|y' }),
      ),
    ).toBe(true);
    // Applied once with its answer lost, a versioned update would fail its repeat with 412.
    expect(isSafeToRepeat(bundle({ method: 'PUT', url: 'Task/1', ifMatch: 'W/"1"' }))).toBe(false);
    expect(isSafeToRepeat(bundle({ method: 'POST', url: 'CarePlan' }))).toBe(false);
    expect(isSafeToRepeat(bundle({ method: 'PUT', url: 'Task/1' }))).toBe(false);
    expect(isSafeToRepeat(bundle({ method: 'DELETE', url: 'Task/1' }))).toBe(false);
    expect(isSafeToRepeat(bundle(undefined))).toBe(false);
  });
});

describe('a remote Medplum that fails for a moment', () => {
  it('is read through: a 503 and a reset, then the answer', async () => {
    const fake = fakeMedplum('https://medplum.test/', [
      { resourceType: 'Patient', id: 'p1', meta: { versionId: '1', lastUpdated: '2026-11-01T10:00:00Z' } },
    ]);
    let failures = 2;
    server.use(
      http.get('https://medplum.test/fhir/R4/Patient/p1', () => {
        if (failures-- === 2) return new HttpResponse(null, { status: 503 });
        if (failures === 0) return HttpResponse.error();
        return undefined;
      }),
      ...medplumHandlers(fake),
    );
    const store = createMedplumStore(
      createMedplumClient({
        baseUrl: 'https://medplum.test/',
        clientId: 'test-client',
        clientSecret: 'test-secret',
        timeoutMs: 2_000,
      }),
      policy,
    );
    expect((await store.read('Patient', 'p1')).id).toBe('p1');
  });
});

describe('searchAll', () => {
  const store = (entries: NonNullable<Bundle['entry']>): FhirStore =>
    ({
      bundle: async () => ({ resourceType: 'Bundle', type: 'batch-response', entry: entries }),
    }) as unknown as FhirStore;
  const searches = [
    { type: 'Patient' as const, query: { _id: 'a' } },
    { type: 'Organization' as const, query: { _id: 'b' } },
  ];

  it('answers each search with its Bundle, in order', async () => {
    const a: Bundle = { resourceType: 'Bundle', type: 'searchset', total: 1 };
    const b: Bundle = { resourceType: 'Bundle', type: 'searchset', total: 0 };
    const found = await searchAll(
      store([
        { resource: a, response: { status: '200 OK' } },
        { resource: b, response: { status: '200' } },
      ]),
      searches,
    );
    expect(found).toEqual([a, b]);
  });

  it('raises a search the store refused as its refusal, and a failed one as the store’s fault', async () => {
    const outcome = { resourceType: 'OperationOutcome' as const, issue: [] };
    const ok = {
      resource: { resourceType: 'Bundle', type: 'searchset' } as Bundle,
      response: { status: '200' },
    };
    await expect(
      searchAll(store([ok, { response: { status: '400 Bad Request', outcome } }]), searches),
    ).rejects.toBeInstanceOf(StoreError);
    await expect(searchAll(store([ok, { response: { status: '500' } }]), searches)).rejects.toBeInstanceOf(
      UpstreamError,
    );
    await expect(searchAll(store([ok]), searches)).rejects.toBeInstanceOf(UpstreamError);
  });
});
