import type { Bundle, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import { UpstreamError } from '../../src/medplum/errors.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { createTestApp, expectOutcome } from '../support/app.ts';
import { counts, exampleBody, postBundle } from '../support/referrals.ts';

const GP_BUNDLE = '01-gp-transaction-bundle.200';

/** A store whose transactions fail once part-way: some entries are written, then the call fails. */
function failingHalfWay(store: FhirStore): FhirStore & { failures: number } {
  const wrapper = {
    ...store,
    failures: 1,
    async bundle(bundle: Bundle): Promise<Bundle> {
      if (wrapper.failures-- <= 0) return store.bundle(bundle);
      const entries = bundle.entry ?? [];
      for (const entry of entries.slice(0, Math.ceil(entries.length / 2))) {
        if (entry.request?.method === 'POST') await store.create(entry.resource as Resource);
      }
      throw new UpstreamError('unavailable');
    },
  };
  return wrapper;
}

/** A store that, like a Medplum project without transactional bundles, answers 200 with a failed entry. */
function partiallyApplied(store: FhirStore): FhirStore {
  return {
    ...store,
    async bundle(bundle: Bundle): Promise<Bundle> {
      const response = await store.bundle(bundle);
      const second = response.entry?.[1];
      if (second?.response) second.response.status = '400 Bad Request';
      return response;
    },
  };
}

describe('a write that fails half-way leaves nothing behind', () => {
  it('removes what the failed transaction wrote, answers 503, and the retry then succeeds', async () => {
    const base = createEmbeddedStore({ timeoutMs: 5_000 }).store;
    await seedEmbeddedStore(base);
    const { app } = createTestApp({}, { store: failingHalfWay(base) });
    const before = await counts(base);
    await expectOutcome(await postBundle(app, exampleBody(GP_BUNDLE)), 503, 'transient');
    expect(await counts(base)).toEqual(before);

    const retry = await postBundle(app, exampleBody(GP_BUNDLE));
    expect(retry.status).toBe(200);
    expect((await counts(base)).ServiceRequest).toBe(1);
  });

  it('removes the applied entries when the store answers 200 with a failed entry, and answers 502', async () => {
    const base = createEmbeddedStore({ timeoutMs: 5_000 }).store;
    await seedEmbeddedStore(base);
    const { app } = createTestApp({}, { store: partiallyApplied(base) });
    const before = await counts(base);
    await expectOutcome(await postBundle(app, exampleBody(GP_BUNDLE)), 502, 'exception');
    expect(await counts(base)).toEqual(before);
  });
});
