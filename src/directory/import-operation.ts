import type { OperationDefinition, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { CANONICAL_BASE } from '../fhir/systems.ts';
import type { ImportCounts, ImportSummary } from './import-open-referral.ts';

export const IMPORT_OPERATION = 'import-open-referral';

const counted = (counts: ImportCounts): ParametersParameter[] =>
  (['created', 'updated', 'unchanged', 'refused'] as const).map((name) => ({
    name,
    valueInteger: counts[name],
  }));

/** An import's answer: the counts, by kind, and each refused record with its ORUK id and reason. */
export function importParameters(summary: ImportSummary): Parameters {
  return {
    resourceType: 'Parameters',
    parameter: [
      ...counted(summary.total),
      ...Object.entries(summary.byKind).map(([kind, counts]) => ({ name: kind, part: counted(counts) })),
      ...summary.refusals.map((r) => ({
        name: 'refused-record',
        part: [
          { name: 'kind', valueCode: r.kind },
          ...(r.orukId !== undefined ? [{ name: 'id', valueString: r.orukId }] : []),
          ...(r.index !== undefined ? [{ name: 'index', valueString: r.index }] : []),
          { name: 'reason', valueString: r.reason },
        ],
      })),
    ],
  };
}

/** Served at `/fhir/OperationDefinition/import-open-referral`. */
export const IMPORT_DEFINITION: OperationDefinition = {
  resourceType: 'OperationDefinition',
  id: IMPORT_OPERATION,
  url: `${CANONICAL_BASE}/OperationDefinition/${IMPORT_OPERATION}`,
  version: '0.1.0',
  name: 'ImportOpenReferral',
  title: 'Import an Open Referral UK feed into the directory',
  status: 'active',
  kind: 'operation',
  affectsState: true,
  code: IMPORT_OPERATION,
  resource: ['HealthcareService'],
  system: false,
  type: true,
  instance: false,
  description:
    'Stores an Open Referral UK feed (ORUK v1 or HSDS 3 UK profile JSON: one service, an array of services, an organisation with its services, or a page of a /services or /service_at_locations list) as Organization, Location and HealthcareService, keyed by their ORUK ids: importing the same feed again updates in place and creates nothing new. Each record that cannot be stored is refused on its own with its id and a reason. The body is the feed itself (application/json), not a Parameters resource. The query parameter `source` names the feed’s API base (an absolute http(s) URL): its ids are then kept under `<source>/services`, `<source>/organizations` and `<source>/locations`, so that two publishers’ ids never meet; without it they share this service’s Open Referral identifier systems. Needs create and update scopes on Organization, HealthcareService and Location.',
  parameter: [
    ...(['created', 'updated', 'unchanged', 'refused'] as const).map((name) => ({
      name,
      use: 'out' as const,
      min: 1,
      max: '1',
      type: 'integer' as const,
      documentation: `Records ${name}, all kinds together.`,
    })),
    ...(['organization', 'location', 'service'] as const).map((name) => ({
      name,
      use: 'out' as const,
      min: 1,
      max: '1',
      documentation: `The counts for ${name} records (parts created, updated, unchanged, refused).`,
    })),
    {
      name: 'refused-record',
      use: 'out',
      min: 0,
      max: '*',
      documentation:
        'A record not stored: parts kind, id (its ORUK id, when it has one), index (where it is in the input) and reason.',
    },
  ],
};
