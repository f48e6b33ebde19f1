import { Failures } from '../fhir/outcomes.ts';
import type { FhirStore } from '../medplum/store.ts';

/** Resolves when the FHIR store answers an authenticated search; 503 otherwise. */
export async function checkReadiness(store: FhirStore): Promise<void> {
  try {
    await store.ping();
  } catch {
    throw Failures.notReady();
  }
}
