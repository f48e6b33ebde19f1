import { notFound, OperationOutcomeError, preconditionFailed } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/**
 * Enforces an `If-Match` version when one is given: the resource must exist (else not found)
 * and be at that version (else precondition failed).
 */
export function requireVersion(existing: Resource | undefined, ifMatch: string | undefined): void {
  if (!ifMatch) return;
  if (!existing) throw new OperationOutcomeError(notFound);
  if (existing.meta?.versionId !== ifMatch) throw new OperationOutcomeError(preconditionFailed);
}
