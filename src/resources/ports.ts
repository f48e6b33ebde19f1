/** The store port as the HTTP layer names it: routes hand it to use cases and never call it. */
export type { FhirStore } from '../medplum/store.ts';
