import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';
import searchParameters from './definitions/search-parameters.json' with { type: 'json' };
import structureDefinitions from './definitions/structure-definitions.json' with { type: 'json' };

let indexed = false;

/**
 * Indexes the slim R4 definitions (built by `npm run build:definitions`) into @medplum/core's
 * global schema, once per process or isolate. Validation, search parsing and the embedded store
 * all read from that schema.
 */
export function indexDefinitions(): void {
  if (indexed) return;
  indexStructureDefinitionBundle(structureDefinitions as unknown as Bundle<StructureDefinition>);
  indexSearchParameterBundle(searchParameters as unknown as Bundle<SearchParameter>);
  indexed = true;
}
