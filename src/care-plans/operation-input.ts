import type { Parameters } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcomes.ts';

/**
 * The body of an operation invoked by POST that defines no input parameters
 * (https://hl7.org/fhir/R4/operations.html#request): none at all, or a Parameters resource with
 * no parameter. Anything else is `malformed`, so that an input the operation would ignore is
 * never taken as having been applied.
 */
export function requireNoInput(body: unknown, operation: string): void {
  if (body === undefined) return;
  const parameters = body as Parameters | null;
  if (
    parameters?.resourceType !== 'Parameters' ||
    typeof parameters !== 'object' ||
    Array.isArray(parameters)
  ) {
    throw new FhirError('malformed', [
      {
        code: 'structure',
        diagnostics: `$${operation} takes no body, or a Parameters resource`,
        expression: ['resourceType'],
      },
    ]);
  }
  if (
    parameters.parameter !== undefined &&
    (!Array.isArray(parameters.parameter) || parameters.parameter.length)
  ) {
    throw new FhirError('malformed', [
      {
        code: 'not-supported',
        diagnostics: `$${operation} defines no input parameters`,
        expression: ['Parameters.parameter'],
      },
    ]);
  }
}
