import type { HealthcareService, Location, Organization, Reference } from '@medplum/fhirtypes';
import { DIRECTORY_SYSTEM } from '../../fhir/systems.ts';
import { idOrUndefined, isObject, type Json, objectsIn, REFUSAL } from './fields.ts';
import { toHealthcareService } from './to-healthcare-service.ts';
import { toLocation } from './to-location.ts';
import { toOrganization } from './to-organization.ts';
import type { Mapped, MappedFeed, MappedRecord, RecordKind, RefusedRecord } from './types.ts';

/** `parent.key`, or `key` at the top of the input. */
export function pathTo(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent === '$' ? '' : parent}[${key}]`;
  return parent === '$' ? key : `${parent}.${key}`;
}

const LINK_SYSTEM: Record<Exclude<RecordKind, 'service'>, string> = {
  organization: DIRECTORY_SYSTEM.orukOrganization,
  location: DIRECTORY_SYSTEM.orukLocation,
};

/**
 * Gathers the records met while walking a feed. The first copy of a record (kind and ORUK id)
 * wins, mapped or refused; later copies are ignored, except that every mapped copy of a service
 * adds its locations (a service_at_locations page repeats a service once per location). Links are
 * made at the end, so a link to a record this feed refused is left out wherever it was met.
 */
export class FeedBuilder {
  private readonly found = {
    organization: new Map<string, Organization>(),
    location: new Map<string, Location>(),
    service: new Map<string, HealthcareService>(),
  };
  private readonly refusedIds = new Set<string>();
  private readonly refused: RefusedRecord[] = [];
  // Links by ORUK id, made references at the end: who provides each service, where, who manages a place.
  private readonly providers = new Map<string, string>();
  private readonly serviceLocations = new Map<string, Set<string>>();
  private readonly managers = new Map<string, string>();

  /** An organisation object, and the locations it lists; its ORUK id when usable. */
  organization(raw: unknown, path: string): string | undefined {
    if (!isObject(raw)) return this.refuse('organization', path, REFUSAL.notObject);
    const id = this.keep('organization', path, toOrganization(raw));
    for (const [location, i] of objectsIn(raw.locations)) {
      this.location(location, pathTo(pathTo(path, 'locations'), i), id);
    }
    return id;
  }

  /** A location object, managed by the organisation it names, else by the one listing it. */
  location(raw: unknown, path: string, owner?: string): string | undefined {
    if (!isObject(raw)) return this.refuse('location', path, REFUSAL.notObject);
    const result = toLocation(raw);
    const id = this.keep('location', path, result);
    const managedBy = idOrUndefined(raw.organization_id) ?? owner;
    if (result.ok && managedBy && !this.managers.has(result.orukId)) {
      this.managers.set(result.orukId, managedBy);
    }
    return id;
  }

  /**
   * A service object with its organisation (nested, else named by `organization_id`, else the one
   * listing it) and its locations (nested in `service_at_locations`, else named by `location_id`).
   */
  service(raw: unknown, path: string, context: { provider?: string; locations?: string[] } = {}): void {
    if (!isObject(raw)) {
      this.refuse('service', path, REFUSAL.notObject);
      return;
    }
    const nested = isObject(raw.organization)
      ? this.organization(raw.organization, pathTo(path, 'organization'))
      : undefined;
    const provider = nested ?? idOrUndefined(raw.organization_id) ?? context.provider;
    const locations = [...(context.locations ?? [])];
    for (const [link, i] of objectsIn(raw.service_at_locations)) {
      const at = pathTo(pathTo(path, 'service_at_locations'), i);
      const location = isObject(link.location)
        ? this.location(link.location, pathTo(at, 'location'))
        : idOrUndefined(link.location_id);
      if (location) locations.push(location);
    }
    const result = toHealthcareService(raw);
    this.keep('service', path, result);
    if (!result.ok || !this.found.service.has(result.orukId)) return;
    const id = result.orukId;
    if (provider && !this.providers.has(id)) this.providers.set(id, provider);
    this.serviceLocations.set(id, new Set([...(this.serviceLocations.get(id) ?? []), ...locations]));
  }

  /** An HSDS 3 service_at_location: its location, and its service linked to that location. */
  serviceAtLocation(raw: Json, path: string): void {
    const location = isObject(raw.location)
      ? this.location(raw.location, pathTo(path, 'location'))
      : idOrUndefined(raw.location_id);
    if (raw.service !== undefined) {
      this.service(raw.service, pathTo(path, 'service'), { locations: location ? [location] : [] });
    }
  }

  /** Records as organisations, locations, then services, each with its links; and the refusals. */
  finish(): MappedFeed {
    const records: MappedRecord[] = [];
    for (const [orukId, resource] of this.found.organization) {
      records.push({ kind: 'organization', orukId, resource });
    }
    for (const [orukId, location] of this.found.location) {
      const managingOrganization = this.reference('organization', this.managers.get(orukId));
      const resource = managingOrganization ? { ...location, managingOrganization } : location;
      records.push({ kind: 'location', orukId, resource });
    }
    for (const [orukId, service] of this.found.service) {
      const providedBy = this.reference('organization', this.providers.get(orukId));
      const location = [...(this.serviceLocations.get(orukId)?.values() ?? [])].flatMap(
        (locationId) => this.reference('location', locationId) ?? [],
      );
      const resource: HealthcareService = {
        ...service,
        ...(providedBy && { providedBy }),
        ...(location.length > 0 && { location }),
      };
      records.push({ kind: 'service', orukId, resource });
    }
    return { records, refused: this.refused };
  }

  /** Keeps a record's first copy; its ORUK id when usable (refused or not: links check at the end). */
  private keep<T extends Organization | Location | HealthcareService>(
    kind: RecordKind,
    path: string,
    mapped: Mapped<T>,
  ): string | undefined {
    if (!mapped.ok) {
      this.refuse(kind, path, mapped.reason, mapped.orukId);
      return mapped.orukId;
    }
    const found = this.found[kind] as Map<string, T>;
    if (!found.has(mapped.orukId) && !this.refusedIds.has(`${kind}|${mapped.orukId}`)) {
      found.set(mapped.orukId, mapped.resource);
    }
    return mapped.orukId;
  }

  /** Notes a refusal, once per record with an id (and not at all when a copy was mapped). */
  private refuse(kind: RecordKind, index: string, reason: string, orukId?: string): undefined {
    if (orukId !== undefined) {
      const key = `${kind}|${orukId}`;
      if (this.refusedIds.has(key) || this.found[kind].has(orukId)) return undefined;
      this.refusedIds.add(key);
    }
    this.refused.push({ kind, ...(orukId !== undefined && { orukId }), index, reason });
    return undefined;
  }

  /** A logical reference by ORUK identifier, unless this feed refused the record it names. */
  private reference<K extends 'organization' | 'location'>(
    kind: K,
    orukId: string | undefined,
  ): Reference<K extends 'organization' ? Organization : Location> | undefined {
    if (orukId === undefined || this.refusedIds.has(`${kind}|${orukId}`)) return undefined;
    // Named by the record's first copy; a record only named by id (not in this feed) has no display.
    const display = this.found[kind].get(orukId)?.name;
    return {
      type: kind === 'organization' ? 'Organization' : 'Location',
      identifier: { system: LINK_SYSTEM[kind], value: orukId },
      ...(display && { display }),
    };
  }
}
