import type { Address, Identifier, Location } from '@medplum/fhirtypes';
import { DIRECTORY_SYSTEM } from '../../fhir/systems.ts';
import { FieldReader, type Json, LIMIT, objectsIn, REFUSAL, readId } from './fields.ts';
import type { Mapped } from './types.ts';

/**
 * An ORUK location as a Location (status `active`): its ORUK id and any UPRN as identifiers, `name`,
 * `alternate_name` as alias, `description`, `position` from latitude/longitude, and `address` from
 * its first physical address. A location needs a name (the directory's Location profile requires
 * one, though ORUK v1 feeds often send `"name": ""`); coordinates that are given but unusable
 * refuse it; one with neither coordinates nor address is kept, named and identified.
 */
export function toLocation(raw: Json): Mapped<Location> {
  const read = readId(raw.id);
  if ('reason' in read) return { ok: false, reason: read.reason };
  const orukId = read.id;
  const reader = new FieldReader();
  const name = reader.text(raw.name, 'name', LIMIT.name);
  if (!name) return { ok: false, orukId, reason: reader.reason ?? REFUSAL.noName };
  const position = readPosition(raw.latitude, raw.longitude);
  if ('reason' in position) return { ok: false, orukId, reason: position.reason };
  const address = readAddress(reader, raw);
  const alias = reader.text(raw.alternate_name, 'alternate name', LIMIT.name);
  const description = reader.text(raw.description, 'description', LIMIT.text);
  if (reader.reason) return { ok: false, orukId, reason: reader.reason };
  const identifier: Identifier[] = [{ system: DIRECTORY_SYSTEM.orukLocation, value: orukId }];
  const uprn = typeof raw.external_identifier === 'string' ? raw.external_identifier.trim() : undefined;
  if (uprn && /^\d{1,12}$/.test(uprn) && /^uprn$/i.test(String(raw.external_identifier_type).trim())) {
    identifier.push({ system: DIRECTORY_SYSTEM.uprn, value: uprn });
  }
  return {
    ok: true,
    orukId,
    resource: {
      resourceType: 'Location',
      identifier,
      status: 'active',
      name,
      ...(alias && { alias: [alias] }),
      ...(description && { description }),
      ...(address && { address }),
      ...(position.value && { position: position.value }),
    },
  };
}

type Position = { latitude: number; longitude: number };

/**
 * Latitude and longitude as numbers (numeric strings too, as some feeds send "51.5"); undefined
 * when both are absent or both 0, the placeholder some feeds use for "not known".
 */
function readPosition(latitude: unknown, longitude: unknown): { value?: Position } | { reason: string } {
  const lat = numberOf(latitude);
  const lng = numberOf(longitude);
  if (lat === undefined && lng === undefined) return {};
  if (lat === undefined || lng === undefined) return { reason: REFUSAL.coordinatesIncomplete };
  if (!(Math.abs(lat) <= 90 && Math.abs(lng) <= 180)) return { reason: REFUSAL.coordinatesOutOfRange };
  return lat === 0 && lng === 0 ? {} : { value: { latitude: lat, longitude: lng } };
}

/** Undefined when absent, the number when it is one, NaN when it is something else. */
function numberOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return Number.NaN;
  const text = value.trim();
  if (!text) return undefined;
  return /^[-+]?(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN;
}

/**
 * The first physical address: ORUK v1 `physical_addresses`, or HSDS 3 `addresses` (one typed
 * `physical` first, else the first that is not `virtual`). County or region goes in `district`.
 */
function readAddress(reader: FieldReader, raw: Json): Address | undefined {
  const v1 = objectsIn(raw.physical_addresses)[0]?.[0];
  const hsds = objectsIn(raw.addresses)
    .map(([entry]) => entry)
    .filter((entry) => entry.address_type !== 'virtual');
  const chosen = v1 ?? hsds.find((entry) => entry.address_type === 'physical') ?? hsds[0];
  if (!chosen) return undefined;
  const type = v1 ? 'physical' : chosen.address_type;
  const line = [chosen.address_1, chosen.address_2].flatMap((part) => reader.text(part, 'address') ?? []);
  const address: Address = {
    ...((type === 'physical' || type === 'postal') && { type }),
    ...(line.length > 0 && { line }),
    city: reader.text(chosen.city, 'address'),
    district: reader.firstText([chosen.region, chosen.state_province], 'address'),
    postalCode: reader.text(chosen.postal_code, 'address'),
    country: reader.text(chosen.country, 'address'),
  };
  for (const key of ['city', 'district', 'postalCode', 'country'] as const) {
    if (address[key] === undefined) delete address[key];
  }
  return Object.keys(address).some((key) => key !== 'type') ? address : undefined;
}
