import type { Identifier, Organization } from '@medplum/fhirtypes';
import { DIRECTORY_SYSTEM } from '../../fhir/systems.ts';
import { FieldReader, type Json, LIMIT, objectsIn, REFUSAL, readId } from './fields.ts';
import { contactPoints, phoneNumbers } from './telecom.ts';
import type { Mapped } from './types.ts';

/**
 * An ORUK organisation as an Organization: its ORUK id and any charity or company number as
 * identifiers, `name`, `alternate_name` as alias, and phones, email and website (`website` in
 * HSDS 3, `url` in ORUK v1) as telecom. Nested services and locations are mapped by the caller.
 */
export function toOrganization(raw: Json): Mapped<Organization> {
  const read = readId(raw.id);
  if ('reason' in read) return { ok: false, reason: read.reason };
  const orukId = read.id;
  const reader = new FieldReader();
  const name = reader.text(raw.name, 'name', LIMIT.name);
  if (!name) return { ok: false, orukId, reason: reader.reason ?? REFUSAL.noName };
  const alias = reader.text(raw.alternate_name, 'alternate name', LIMIT.name);
  const telecom = contactPoints(
    phoneNumbers(reader, raw.phones),
    reader.text(raw.email, 'email'),
    reader.firstText([raw.website, raw.url], 'url'),
  );
  const registrations = objectsIn(raw.organization_identifiers).flatMap(([entry]) =>
    registrationNumber(reader, entry),
  );
  if (reader.reason) return { ok: false, orukId, reason: reader.reason };
  return {
    ok: true,
    orukId,
    resource: {
      resourceType: 'Organization',
      identifier: [{ system: DIRECTORY_SYSTEM.orukOrganization, value: orukId }, ...registrations],
      active: true,
      name,
      ...(alias && { alias: [alias] }),
      ...(telecom.length > 0 && { telecom }),
    },
  };
}

type Register = 'charity' | 'company';

/** org-id.guide codes for the two registers kept; any other code names a register we do not keep. */
const SCHEMES: Record<string, Register> = { 'GB-CHC': 'charity', 'GB-COH': 'company' };
const ORG_ID_CODE = /^[A-Z]{2}-[A-Z0-9]+$/;

/** Which register an HSDS 3 `organization_identifiers` entry names, by scheme code or else by its words. */
function registerOf(scheme: string | undefined, type: string | undefined): Register | undefined {
  const code = scheme?.toUpperCase();
  if (code && ORG_ID_CODE.test(code)) return SCHEMES[code];
  const words = `${scheme ?? ''} ${type ?? ''}`.toLowerCase();
  // Scottish and Northern Irish charity numbers belong to other registers (GB-SC, GB-NIC).
  if (/charit/.test(words)) return /scot|oscr|northern ireland/.test(words) ? undefined : 'charity';
  if (/compan/.test(words)) return 'company';
  return undefined;
}

/** The shapes the two registers issue (a company number's leading zeros are often left off). */
const NUMBER_SHAPE: Record<Register, RegExp> = {
  charity: /^\d{5,8}(-\d{1,3})?$/,
  company: /^[A-Z0-9]{1,8}$/,
};

/** A charity or company number as an Identifier; other schemes and ill-formed numbers are skipped. */
function registrationNumber(reader: FieldReader, entry: Json): Identifier[] {
  const register = registerOf(
    reader.text(entry.identifier_scheme, 'organisation identifier'),
    reader.text(entry.identifier_type, 'organisation identifier'),
  );
  if (!register) return [];
  // Charity numbers never start with 0, so one sent as a JSON number loses nothing.
  const given =
    register === 'charity' && typeof entry.identifier === 'number'
      ? String(entry.identifier)
      : entry.identifier;
  const value = reader.text(given, 'organisation identifier')?.replace(/\s+/g, '').toUpperCase();
  if (!value || !NUMBER_SHAPE[register].test(value)) return [];
  const system = register === 'charity' ? DIRECTORY_SYSTEM.charityNumber : DIRECTORY_SYSTEM.companyNumber;
  return [{ system, value }];
}
