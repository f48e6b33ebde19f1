import { ODS_SYSTEMS, SYSTEM } from './systems.ts';

const WEIGHTS = [10, 9, 8, 7, 6, 5, 4, 3, 2] as const;

/**
 * NHS number check (NHS Data Dictionary, Modulus 11): ten digits once spaces are removed, the last
 * a check digit over the first nine with weights 10..2; a computed check of 10 means the number is
 * never issued. `0000000000` passes the arithmetic but is a placeholder, never a person's number.
 */
export function isValidNhsNumber(value: string): boolean {
  const digits = normaliseNhsNumber(value);
  if (!/^\d{10}$/.test(digits) || digits === '0000000000') return false;
  const sum = WEIGHTS.reduce((acc, weight, i) => acc + weight * Number(digits[i]), 0);
  const check = 11 - (sum % 11);
  const expected = check === 11 ? 0 : check;
  return expected !== 10 && expected === Number(digits[9]);
}

/** The NHS number as stored and matched: digits only (senders often write `999 000 0018`). */
export function normaliseNhsNumber(value: string): string {
  return value.replace(/\s/g, '');
}

/** An ODS code as stored and matched: upper case, no surrounding spaces (ODS codes are). */
export function normaliseOdsCode(value: string): string {
  return value.trim().toUpperCase();
}

/**
 * A copy of the resource with every NHS number identifier (its own, and those in logical
 * references) written as digits only, and every ODS code in upper case, so one person or
 * organisation is always matched as one: identifiers are matched with their case, as Medplum's
 * Postgres matches them.
 */
export function withNormalisedIdentifiers<T>(resource: T): T {
  const copy = structuredClone(resource);
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
    } else if (typeof node === 'object' && node !== null) {
      const record = node as Record<string, unknown>;
      if (record.system === SYSTEM.nhsNumber && typeof record.value === 'string') {
        record.value = normaliseNhsNumber(record.value);
      }
      if (ODS_SYSTEMS.includes(record.system as string) && typeof record.value === 'string') {
        record.value = normaliseOdsCode(record.value);
      }
      for (const value of Object.values(record)) visit(value);
    }
  };
  visit(copy);
  return copy;
}
