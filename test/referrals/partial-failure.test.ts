import type { Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import { UpstreamError } from '../../src/medplum/errors.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { createTestApp, expectOutcome } from '../support/app.ts';
import { referralProblems } from '../support/integrity.ts';
import { counts, exampleBody, postBundle } from '../support/referrals.ts';

const GP_BUNDLE = '01-gp-transaction-bundle.200';

async function seededStore(): Promise<FhirStore> {
  const store = createEmbeddedStore({ timeoutMs: 5_000 }).store;
  await seedEmbeddedStore(store);
  return store;
}

/** Applies the first `keep` entries of the next transaction (as a store without transactions would), then fails. */
function failingAfter(
  store: FhirStore,
  keep: (entries: number) => number,
  failure: () => Error,
): FhirStore & { armed: boolean } {
  const wrapper = {
    ...store,
    armed: true,
    async bundle(bundle: Bundle): Promise<Bundle> {
      if (!wrapper.armed || bundle.type !== 'transaction') return store.bundle(bundle);
      wrapper.armed = false;
      const entries = bundle.entry ?? [];
      // Entries come after those they name, so a prefix is a write of its own.
      const prefix = entries.slice(0, keep(entries.length));
      if (prefix.length) await store.bundle({ ...bundle, entry: prefix });
      throw failure();
    },
  };
  return wrapper;
}

/** Like a Medplum project without transactional bundles: answers 200 with one entry failed, the rest applied. */
function partiallyApplied(store: FhirStore): FhirStore & { armed: boolean } {
  const wrapper = {
    ...store,
    armed: true,
    async bundle(bundle: Bundle): Promise<Bundle> {
      const response = await store.bundle(bundle);
      if (!wrapper.armed || bundle.type !== 'transaction') return response;
      wrapper.armed = false;
      const last = response.entry?.at(-1);
      if (last?.response) last.response.status = '400 Bad Request';
      return response;
    },
  };
  return wrapper;
}

describe('a write whose outcome is unclear is completed, never undone', () => {
  it.each([
    ['nothing applied, then unreachable', () => 0, () => new UpstreamError('unavailable'), 503],
    [
      'half applied, then reset',
      (n: number) => Math.ceil(n / 2),
      () => new UpstreamError('unavailable'),
      503,
    ],
    ['all applied, then timed out', (n: number) => n, () => new UpstreamError('timeout'), 504],
    ['all applied, then a 5xx', (n: number) => n, () => new UpstreamError('bad-gateway', 500), 502],
  ])(
    '%s: the error says retry, and the retry completes the referral once',
    async (_name, keep, failure, status) => {
      const base = await seededStore();
      const flaky = failingAfter(base, keep, failure);
      const { app } = createTestApp({}, { store: flaky });
      const first = await postBundle(app, exampleBody(GP_BUNDLE));
      expect(first.status).toBe(status);
      expect(first.headers.get('retry-after')).toBeTruthy();

      const retry = await postBundle(app, exampleBody(GP_BUNDLE));
      expect(retry.status).toBe(200);
      const after = await counts(base);
      expect([after.Patient, after.ServiceRequest, after.Task, after.Consent, after.Provenance]).toEqual([
        1, 1, 1, 1, 1,
      ]);
      expect(await referralProblems(base)).toEqual([]);
      // And again: nothing more is written.
      expect((await postBundle(app, exampleBody(GP_BUNDLE))).status).toBe(200);
      expect(await counts(base)).toEqual(after);
    },
  );

  it('a store that applies all but one entry and says so answers 502; the retry completes it', async () => {
    const base = await seededStore();
    const { app } = createTestApp({}, { store: partiallyApplied(base) });
    await expectOutcome(await postBundle(app, exampleBody(GP_BUNDLE)), 502, 'exception');
    expect((await postBundle(app, exampleBody(GP_BUNDLE))).status).toBe(200);
    expect((await counts(base)).ServiceRequest).toBe(1);
    expect(await referralProblems(base)).toEqual([]);
  });
});
