import { readFileSync } from 'node:fs';
import type { Bundle } from '@medplum/fhirtypes';

/** The example GP referral every benchmark posts, made distinct per call. */
export const exampleReferral = JSON.parse(
  readFileSync(
    new URL('../../examples/referrals/01-gp-transaction-bundle.200.request.json', import.meta.url),
    'utf8',
  ),
).body as Bundle;

const template = JSON.stringify(exampleReferral);

/** Referral `n`: its own referral identifier and its own person (NHS number with a valid check digit). */
export function uniqueReferral(n: number, run: string = String(process.pid)): string {
  return template.replaceAll('9990000018', nhsNumber(n)).replaceAll('RMP-2026-000101', `BENCH-${run}-${n}`);
}

/** A distinct ten-digit number passing the Modulus 11 check, for each n. */
export function nhsNumber(n: number): string {
  for (let k = n * 2; ; k++) {
    const base = `8${String(k).padStart(8, '0')}`;
    const sum = [...base].reduce((acc, d, i) => acc + Number(d) * (10 - i), 0);
    const check = (11 - (sum % 11)) % 11;
    if (check !== 10) return base + String(check);
  }
}
