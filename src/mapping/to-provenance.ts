import type { Provenance, ProvenanceAgent, Reference } from '@medplum/fhirtypes';
import { OWN_SYSTEM } from '../fhir/systems.ts';

export interface ProvenanceInput {
  targets: Reference[];
  recorded: string;
  /** Who made the change: the referrer for intake. */
  agent: ProvenanceAgent['who'];
  onBehalfOf?: ProvenanceAgent['onBehalfOf'];
  requestId: string;
  activity: 'CREATE' | 'UPDATE';
}

/**
 * Provenance of one write: what was written, when, by whom, and the inbound request (its
 * X-Request-ID) as the source entity.
 */
export function toProvenance(input: ProvenanceInput): Provenance {
  return {
    resourceType: 'Provenance',
    target: input.targets,
    recorded: input.recorded,
    activity: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: input.activity }],
    },
    agent: [
      {
        type: {
          coding: [
            { system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' },
          ],
        },
        who: input.agent,
        ...(input.onBehalfOf ? { onBehalfOf: input.onBehalfOf } : {}),
      },
    ],
    entity: [
      { role: 'source', what: { identifier: { system: OWN_SYSTEM.requestId, value: input.requestId } } },
    ],
  };
}
