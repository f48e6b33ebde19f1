import type { FhirRepository } from '@medplum/fhir-router';
import { createMedplumClient, createMedplumStore, type FhirStore } from '../store.ts';
import { createEmbeddedMedplum, type EmbeddedMedplum } from './server.ts';

/** Where the in-process embedded Medplum pretends to live; never resolved on the network. */
export const EMBEDDED_BASE_URL = 'http://embedded-medplum.invalid/';

export interface EmbeddedStore {
  store: FhirStore;
  medplum: EmbeddedMedplum;
}

/**
 * A FhirStore backed by the embedded Medplum, reached through a real MedplumClient whose fetch
 * is the embedded server's handler: the same client calls, token exchange included, as against
 * a remote Medplum.
 */
export function createEmbeddedStore(options: { timeoutMs: number; repo?: FhirRepository }): EmbeddedStore {
  const medplum = createEmbeddedMedplum(options.repo);
  const client = createMedplumClient({
    baseUrl: EMBEDDED_BASE_URL,
    clientId: 'embedded',
    clientSecret: 'embedded',
    timeoutMs: options.timeoutMs,
    fetch: (input, init) => medplum.fetch(new Request(input, init)),
  });
  return { store: createMedplumStore(client), medplum };
}
