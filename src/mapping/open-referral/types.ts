import type { HealthcareService, Location, Organization } from '@medplum/fhirtypes';

/** The kinds of Open Referral UK (ORUK) record this mapping produces a resource for. */
export type RecordKind = 'organization' | 'service' | 'location';

/** One ORUK record mapped onto FHIR, keyed by its ORUK id. */
export interface MappedRecord {
  kind: RecordKind;
  orukId: string;
  resource: Organization | HealthcareService | Location;
}

/** One record (or the whole input, kind `input`) that was not mapped, with a fixed reason. */
export interface RefusedRecord {
  kind: RecordKind | 'input';
  /** The record's ORUK id, when it has a usable one. */
  orukId?: string;
  /** Where the record sits in the input (`contents[3].organization`; `$` for the input itself). */
  index?: string;
  reason: string;
}

/**
 * A feed mapped: organisations, then locations, then services (the order a writer creates them
 * in), each ORUK record once; and what was refused, in the order it was met.
 */
export interface MappedFeed {
  records: MappedRecord[];
  refused: RefusedRecord[];
}

/** The outcome of mapping one record on its own (links to other records are added later). */
export type Mapped<T> =
  | { ok: true; orukId: string; resource: T }
  | { ok: false; orukId?: string; reason: string };
