import type { Bundle, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { StoreError } from '../../src/medplum/errors.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { expectOutcome } from '../support/app.ts';
import { exampleBody, postBundle, seededApp } from '../support/referrals.ts';

/** The store, with every transaction that updates a Patient refused 412 (another process won). */
function overtaken(store: FhirStore): FhirStore & { refused: number } {
  const wrapped = {
    ...store,
    refused: 0,
    async bundle(bundle: Bundle) {
      if (bundle.entry?.some((e) => e.request?.method === 'PUT' && e.request.url?.startsWith('Patient/'))) {
        wrapped.refused++;
        throw new StoreError(412, { resourceType: 'OperationOutcome', issue: [] });
      }
      return store.bundle(bundle);
    },
  };
  return wrapped;
}

describe('a referral whose person’s record keeps changing under it', () => {
  it('is tried afresh, then answered 503 with Retry-After, never 412', async () => {
    const store = overtaken(createEmbeddedStore({ timeoutMs: 5_000 }).store);
    const { app } = await seededApp({}, { store });
    expect((await postBundle(app, exampleBody('01-gp-transaction-bundle.200'))).status).toBe(200);
    // The same person again with a phone number the record lacks: the record must be updated.
    const again = exampleBody('03-existing-patient-referred-again.200');
    (again.entry?.[0]?.resource as Patient).telecom = [{ system: 'phone', value: '01632 960001' }];
    const response = await postBundle(app, again);
    await expectOutcome(response, 503, 'transient');
    expect(response.headers.get('retry-after')).toBe('1');
    expect(store.refused).toBe(3);
  });
});
