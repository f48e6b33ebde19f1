import { isResourceType, parseReference } from '@medplum/core';
import type { ResourceType } from '@medplum/fhirtypes';

/**
 * A literal reference to a resource on this server (`Type/id`, no version, no base), or undefined
 * for anything else (`urn:uuid:`, absolute URLs, logical references).
 */
export function parseLocalReference(
  reference: string | undefined,
): { type: ResourceType; id: string } | undefined {
  if (reference?.split('/').length !== 2) return undefined;
  try {
    const [type, id] = parseReference({ reference });
    return isResourceType(type) && id ? { type: type as ResourceType, id } : undefined;
  } catch {
    return undefined;
  }
}
