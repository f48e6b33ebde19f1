import type { Resource } from '@medplum/fhirtypes';
import { expect } from 'vitest';
import {
  captureValues,
  DEFAULT_EXAMPLE_CLIENT,
  type Example,
  type ExampleRequest,
  substitute,
} from '../../scripts/example-pairs.ts';
import { withAccess } from '../../src/auth/tenancy.ts';
import { SERVED_RESOURCE_TYPES } from '../../src/fhir/resource-types.ts';
import type { FhirStore } from '../../src/medplum/store.ts';

// The data the capability walk and the search probe read: what the example journey leaves, and one
// resource of each served type it does not write. Shared by the walk in Node and in workerd.

/** Sends one example request, as the example's client where clients are registered. */
export type Fetch = (request: ExampleRequest, client: string) => Promise<Response>;

/** Runs examples/journey/ in order; each step must answer with its example's status. */
export async function runJourney(examples: readonly Example[], fetchAs: Fetch): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for (const example of examples) {
    const request = substitute(example.request, values);
    const expected = substitute(example.response, values);
    const response = await fetchAs(request, request.client ?? DEFAULT_EXAMPLE_CLIENT);
    // What each step stores is what the walk reads; the examples test checks the answers whole.
    expect(response.status, example.name).toBe(expected.status);
    expect(await captureValues(expected, response, values), example.name).toEqual([]);
  }
  return values;
}

/** One resource of each served type the journey does not write, so every type has one to read. */
function fixture(type: string, patient: string): Resource | undefined {
  const subject = { reference: `Patient/${patient}` };
  const fixtures: Record<string, Resource> = {
    Location: { resourceType: 'Location', status: 'active', name: 'Riverside Community Centre' },
    Observation: {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '72166-2', display: 'Tobacco smoking status' }] },
      subject,
      effectiveDateTime: '2026-11-19T10:00:00Z',
      valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '266919005' }] },
    },
    RelatedPerson: {
      resourceType: 'RelatedPerson',
      patient: subject,
      name: [{ family: 'Okafor', given: ['Ada'] }],
    },
    Condition: {
      resourceType: 'Condition',
      subject,
      code: {
        coding: [{ system: 'http://snomed.info/sct', code: '422650009', display: 'Social isolation' }],
      },
      recordedDate: '2026-11-19',
    },
  };
  return fixtures[type];
}

export async function addFixtures(store: FhirStore, patient: string, organizations: string[]): Promise<void> {
  for (const type of SERVED_RESOURCE_TYPES) {
    const resource = fixture(type, patient);
    if (!resource || (await store.search(type, { _count: '1' })).entry?.length) continue;
    await store.create(withAccess(resource, organizations) as never);
  }
}
