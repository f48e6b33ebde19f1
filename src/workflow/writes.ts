import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { Failures } from '../fhir/outcomes.ts';
import { OWN_SYSTEM } from '../fhir/systems.ts';

/** A transaction entry creating the resource (named by `fullUrl` when others point at it). */
export function postEntry(resource: Resource, fullUrl?: string): BundleEntry {
  return {
    ...(fullUrl ? { fullUrl } : {}),
    resource,
    request: { method: 'POST', url: resource.resourceType },
  };
}

/** Drops the sender's id and server-owned meta (and any access labels: they are the service's). */
export function forCreate<T extends Resource>(resource: T): T {
  const { id: _id, meta, ...rest } = resource;
  return { ...rest, ...(meta?.profile ? { meta: { profile: meta.profile } } : {}) } as T;
}

/** The organisations (ODS codes) a stored resource is visible to. */
export function accessOf(resource: Resource): string[] {
  return (resource.meta?.security ?? [])
    .filter((c) => c.system === OWN_SYSTEM.organisationAccess && c.code)
    .map((c) => c.code as string);
}

/**
 * The resources a transaction wrote, in the order sent; raised as an incomplete write unless
 * every entry succeeded (a store without transactional bundles may apply only some).
 */
export function writtenResources(sent: Bundle, response: Bundle, what: string): Resource[] {
  const entries = response.entry ?? [];
  const whole =
    entries.length === (sent.entry?.length ?? 0) &&
    entries.every((e) => (e.response?.status ?? '201').startsWith('2') && e.resource?.id);
  if (!whole) throw Failures.incompleteWrite(what);
  return entries.map((e) => e.resource as Resource);
}
