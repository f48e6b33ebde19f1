import { notFound, OperationOutcomeError, type WithId } from '@medplum/core';
import type { ReadHistoryOptions } from '@medplum/fhir-router';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { Journal } from './journal.ts';

/** A resource's versions from the journal, newest first, as a history Bundle. */
export function historyBundle<T extends Resource>(
  journal: Journal,
  resourceType: string,
  id: string,
  options?: ReadHistoryOptions,
): Bundle<WithId<T>> {
  const entry = journal
    .history(resourceType, id, options?.offset, options?.limit)
    .map((content) => ({ resource: JSON.parse(content) as WithId<T> }));
  return { resourceType: 'Bundle', type: 'history', ...(entry.length ? { entry } : undefined) };
}

/** One version of a resource from the journal; not found when the journal has no such version. */
export function readVersionFrom<T extends Resource>(
  journal: Journal,
  resourceType: string,
  id: string,
  versionId: string,
): WithId<T> {
  const content = journal.version(resourceType, id, versionId);
  if (!content) throw new OperationOutcomeError(notFound);
  return JSON.parse(content) as WithId<T>;
}
