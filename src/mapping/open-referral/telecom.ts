import type { ContactPoint } from '@medplum/fhirtypes';
import { type FieldReader, objectsIn } from './fields.ts';

/**
 * The numbers of an ORUK `phones` array. A pair of double quotes around a number is dropped: the
 * published HSDS 3 examples send `"\"+44 1234 234567\""`. Extensions have no ContactPoint field.
 */
export function phoneNumbers(reader: FieldReader, phones: unknown): string[] {
  const numbers: string[] = [];
  for (const [phone] of objectsIn(phones)) {
    const raw = reader.text(phone.number, 'phone');
    const number = raw?.replace(/^"(.*)"$/s, '$1').trim();
    if (number && !numbers.includes(number)) numbers.push(number);
  }
  return numbers;
}

/** ContactPoints in a fixed order: phones, then email, then web address. */
export function contactPoints(phones: string[], email?: string, url?: string): ContactPoint[] {
  return [
    ...phones.map((value): ContactPoint => ({ system: 'phone', value })),
    ...(email ? [{ system: 'email', value: email } satisfies ContactPoint] : []),
    ...(url ? [{ system: 'url', value: url } satisfies ContactPoint] : []),
  ];
}
