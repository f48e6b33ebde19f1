import {
  applyPatch,
  badRequest,
  fhirpathPatchTypedValue,
  normalizeOperationOutcome,
  type Operation,
  OperationOutcomeError,
  parseFhirPathPatchParameters,
  toTypedValue,
} from '@medplum/core';
import type { Parameters, Resource } from '@medplum/fhirtypes';

/**
 * Applies a JSON Patch or a FHIRPath Patch (`Parameters`) to `resource` in place; any failure
 * is thrown as an OperationOutcomeError.
 */
export function applyResourcePatch(resource: Resource, patch: Operation[] | Parameters): void {
  try {
    if (Array.isArray(patch)) {
      const errors = applyPatch(resource, patch).filter(Boolean);
      if (errors.length > 0) {
        throw new OperationOutcomeError(badRequest(errors.map((e) => (e as Error).message).join('\n')));
      }
    } else if (patch.parameter) {
      fhirpathPatchTypedValue(toTypedValue(resource), parseFhirPathPatchParameters(patch));
    }
  } catch (err) {
    throw new OperationOutcomeError(normalizeOperationOutcome(err));
  }
}
