import { Failures, FhirError } from '../fhir/outcomes.ts';
import { type FhirStore, runsTransactionsAtomically } from '../medplum/store.ts';

/**
 * Resolves when the FHIR store answers an authenticated search and runs transaction Bundles all
 * or nothing; 503 otherwise. A store that applies part of a transaction would leave referrals
 * half stored whenever one entry fails, so the service is not ready on it.
 */
export async function checkReadiness(store: FhirStore): Promise<void> {
  let atomic: boolean;
  try {
    await store.ping();
    atomic = await runsTransactionsAtomically(store);
  } catch {
    throw Failures.notReady();
  }
  if (!atomic) {
    throw new FhirError('not-configured', [
      {
        code: 'not-supported',
        diagnostics:
          'The FHIR store applies transaction Bundles entry by entry: give the Medplum project the transaction-bundles feature',
      },
    ]);
  }
}
