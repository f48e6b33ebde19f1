const WEIGHTS = [10, 9, 8, 7, 6, 5, 4, 3, 2] as const;

/**
 * NHS number check (NHS Data Dictionary, Modulus 11): ten digits, the last a check digit over
 * the first nine with weights 10..2; a computed check of 10 means the number is never issued.
 */
export function isValidNhsNumber(value: string): boolean {
  const digits = value.replace(/\s/g, '');
  if (!/^\d{10}$/.test(digits)) return false;
  const sum = WEIGHTS.reduce((acc, weight, i) => acc + weight * Number(digits[i]), 0);
  const check = 11 - (sum % 11);
  const expected = check === 11 ? 0 : check;
  return expected !== 10 && expected === Number(digits[9]);
}

/** The NHS number as stored: digits only. */
export function normaliseNhsNumber(value: string): string {
  return value.replace(/\s/g, '');
}
