import type { CodeableConcept, HealthcareService } from '@medplum/fhirtypes';
import { DIRECTORY_SYSTEM } from '../../fhir/systems.ts';
import { activityCategories } from './activity-category.ts';
import { FieldReader, type Json, LIMIT, objectsIn, REFUSAL, readId } from './fields.ts';
import { taxonomyTerms, termConcept, termName } from './taxonomy.ts';
import { contactPoints, phoneNumbers } from './telecom.ts';
import type { Mapped } from './types.ts';

/** ORUK `status` values that mean the service is not running now (separators and case ignored). */
const NOT_ACTIVE = new Set(['inactive', 'defunct', 'temporarily closed']);

/**
 * An ORUK service's own fields as a HealthcareService (providedBy and location are links to other
 * records, added by the caller): its ORUK id as identifier; `active` unless `status` says it is
 * inactive, defunct or temporarily closed; `name`; `description` as `comment` (the one description
 * both ORUK v1 and HSDS 3 carry); phones, `email` and `url` as telecom (a contact's phones only
 * when the service has none of its own: ORUK v1 keeps them there); each taxonomy term as a `type`,
 * and the activity categories the term names point to as `category`.
 */
export function toHealthcareService(raw: Json): Mapped<HealthcareService> {
  const read = readId(raw.id);
  if ('reason' in read) return { ok: false, reason: read.reason };
  const orukId = read.id;
  const reader = new FieldReader();
  const name = reader.text(raw.name, 'name', LIMIT.name);
  if (!name) return { ok: false, orukId, reason: reader.reason ?? REFUSAL.noName };
  const comment = reader.text(raw.description, 'description', LIMIT.text);
  const ownPhones = phoneNumbers(reader, raw.phones);
  const phones =
    ownPhones.length > 0
      ? ownPhones
      : [...new Set(objectsIn(raw.contacts).flatMap(([contact]) => phoneNumbers(reader, contact.phones)))];
  const telecom = contactPoints(phones, reader.text(raw.email, 'email'), reader.text(raw.url, 'url'));
  const terms = taxonomyTerms(raw);
  const type = uniqueConcepts(terms.flatMap((term) => termConcept(reader, term) ?? []));
  const category = activityCategories(terms.flatMap((term) => termName(reader, term) ?? []));
  if (reader.reason) return { ok: false, orukId, reason: reader.reason };
  const status =
    typeof raw.status === 'string'
      ? raw.status
          .trim()
          .toLowerCase()
          .replace(/[\s_-]+/g, ' ')
      : '';
  return {
    ok: true,
    orukId,
    resource: {
      resourceType: 'HealthcareService',
      identifier: [{ system: DIRECTORY_SYSTEM.orukService, value: orukId }],
      active: !NOT_ACTIVE.has(status),
      ...(category.length > 0 && { category }),
      ...(type.length > 0 && { type }),
      name,
      ...(comment && { comment }),
      ...(telecom.length > 0 && { telecom }),
    },
  };
}

/** Concepts with the same system and code kept once (feeds repeat a term under several links). */
function uniqueConcepts(concepts: CodeableConcept[]): CodeableConcept[] {
  const seen = new Set<string>();
  return concepts.filter((concept) => {
    const key = `${concept.coding?.[0]?.system}|${concept.coding?.[0]?.code}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
