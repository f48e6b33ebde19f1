import type { Identifier, Reference } from '@medplum/fhirtypes';
import { DIRECTORY_SYSTEM } from '../../fhir/systems.ts';
import type { MappedFeed, RecordKind } from './types.ts';

/** The identifier system of each kind of record's ORUK ids. */
export type FeedSystems = Readonly<Record<RecordKind, string>>;

/** The shared systems, for feeds imported without naming their source. */
export const DEFAULT_FEED_SYSTEMS: FeedSystems = {
  organization: DIRECTORY_SYSTEM.orukOrganization,
  location: DIRECTORY_SYSTEM.orukLocation,
  service: DIRECTORY_SYSTEM.orukService,
};

/**
 * The systems of one publisher's ids: its API's collections (`<base>/services` and so on, where
 * `<base>/services/{id}` is the record), so that two feeds using the same ids stay apart. The base
 * is an absolute http(s) URL with no query or fragment; undefined when it is not one.
 */
export function feedSystemsOf(source: string): FeedSystems | undefined {
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    return undefined;
  }
  if (!['https:', 'http:'].includes(url.protocol) || url.search || url.hash || source.length > 500) {
    return undefined;
  }
  // Characters that mean something in a token search (`system|value`, `a,b`) are refused.
  if (/[,|$\\]/.test(url.href)) return undefined;
  const base = url.href.replace(/\/+$/, '');
  return {
    organization: `${base}/organizations`,
    location: `${base}/locations`,
    service: `${base}/services`,
  };
}

/** The feed with its ORUK ids, and the links between its records, under these systems. */
export function withFeedSystems(feed: MappedFeed, systems: FeedSystems): MappedFeed {
  const rename = new Map(
    (Object.keys(DEFAULT_FEED_SYSTEMS) as RecordKind[]).map((kind) => [
      DEFAULT_FEED_SYSTEMS[kind],
      systems[kind],
    ]),
  );
  const identifier = (i: Identifier): Identifier =>
    i.system && rename.has(i.system) ? { ...i, system: rename.get(i.system) } : i;
  const reference = <R extends Reference>(r: R): R =>
    r.identifier ? { ...r, identifier: identifier(r.identifier) } : r;
  return {
    refused: feed.refused,
    records: feed.records.map((record) => {
      const resource = { ...record.resource, identifier: record.resource.identifier?.map(identifier) };
      switch (resource.resourceType) {
        case 'HealthcareService':
          return {
            ...record,
            resource: {
              ...resource,
              ...(resource.providedBy ? { providedBy: reference(resource.providedBy) } : {}),
              ...(resource.location ? { location: resource.location.map(reference) } : {}),
            },
          };
        case 'Location':
          return {
            ...record,
            resource: {
              ...resource,
              ...(resource.managingOrganization
                ? { managingOrganization: reference(resource.managingOrganization) }
                : {}),
            },
          };
        default:
          return { ...record, resource };
      }
    }),
  };
}
