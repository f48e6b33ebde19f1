import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { Issue } from './outcomes.ts';
import { shapeIssues } from './shape.ts';

/**
 * Validates a resource against base FHIR R4 (cardinality, types, unknown elements, fixed values,
 * invariants) and returns every error, with expressions re-rooted under `at` (for example
 * `Bundle.entry[2].resource`) so they point into what the caller sent.
 */
export function validateBaseR4(resource: Resource, at?: string): Issue[] {
  const shape = shapeIssues(resource);
  if (shape.length)
    return shape.map((issue) => ({
      ...issue,
      expression: issue.expression?.map((e) => reroot(e, resource.resourceType, at)),
    }));
  let raw: NonNullable<OperationOutcomeError['outcome']['issue']> = [];
  try {
    raw = validateResource(resource);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    raw = err.outcome.issue ?? [];
  }
  // Warnings do not block; the only ones base validation raises here are reference-type checks it
  // cannot do on urn:uuid references, which the referral rules check themselves.
  return raw
    .filter((issue) => issue.severity === 'error' || issue.severity === 'fatal')
    .map((issue) => ({
      severity: issue.severity,
      code: issue.code,
      diagnostics: issue.details?.text ?? issue.diagnostics ?? 'Invalid',
      ...(issue.expression
        ? { expression: issue.expression.map((e) => reroot(e, resource.resourceType, at)) }
        : {}),
    }));
}

function reroot(expression: string, resourceType: string, at: string | undefined): string {
  if (!at) return expression;
  return expression.startsWith(resourceType)
    ? at + expression.slice(resourceType.length)
    : `${at}.${expression}`;
}

export const hasErrors = (issues: readonly Issue[]): boolean =>
  issues.some((i) => i.severity === undefined || i.severity === 'error' || i.severity === 'fatal');
