import { deepEquals } from '@medplum/core';
import type { Bundle, BundleEntry, Identifier, Reference } from '@medplum/fhirtypes';
import type { DirectoryResource } from './directory-rules.ts';

/**
 * What an import writes, entry by entry: the pure parts (comparing versions, making batch
 * entries, search tokens), apart from the run that sequences them.
 */

/** The references a record makes to other records by ORUK identifier. */
export function namedRefs(resource: DirectoryResource): Reference[] {
  switch (resource.resourceType) {
    case 'HealthcareService':
      return [...(resource.providedBy ? [resource.providedBy] : []), ...(resource.location ?? [])];
    case 'Location':
      return resource.managingOrganization ? [resource.managingOrganization] : [];
    default:
      return [];
  }
}

/** The feed's version of an entry over the stored one: identifiers of other systems are kept. */
export function mergedInto(stored: DirectoryResource, imported: DirectoryResource): DirectoryResource {
  const systems = new Set((imported.identifier ?? []).map((i) => i.system));
  const kept = (stored.identifier ?? []).filter((i) => !systems.has(i.system));
  return {
    ...imported,
    id: stored.id,
    identifier: [...(imported.identifier ?? []), ...kept],
  } as DirectoryResource;
}

/** Whether two versions say the same (ids, versions and dates aside). */
export function sameContent(a: DirectoryResource, b: DirectoryResource): boolean {
  const content = (r: DirectoryResource) => {
    const { id: _id, meta, ...rest } = r;
    return { ...rest, tag: meta?.tag ?? [] };
  };
  return deepEquals(content(a), content(b));
}

/** A create, conditional on the identifier the entry is keyed by. */
export function createEntry(resource: DirectoryResource, keyedBy: Identifier): BundleEntry {
  return {
    resource,
    request: {
      method: 'POST',
      url: resource.resourceType,
      ifNoneExist: `identifier=${encodeURIComponent(tokenOf(keyedBy))}`,
    },
  };
}

/** An update of the stored entry, at the version read. */
export function updateEntry(resource: DirectoryResource, stored: DirectoryResource): BundleEntry {
  return {
    resource,
    request: {
      method: 'PUT',
      url: `${resource.resourceType}/${stored.id}`,
      ...(stored.meta?.versionId ? { ifMatch: `W/"${stored.meta.versionId}"` } : {}),
    },
  };
}

/** A batch Bundle: each entry applied, or refused, on its own. */
export function batch(entry: BundleEntry[]): Bundle {
  return { resourceType: 'Bundle', type: 'batch', entry };
}

/** `system|value` for a token search, with FHIR's search escapes. */
export function tokenOf(identifier: Identifier): string {
  const value = (identifier.value ?? '').replace(/[\\,$|]/g, (c) => `\\${c}`);
  return `${identifier.system}|${value}`;
}

/** The items in runs of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
