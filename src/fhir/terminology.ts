import type { Coding, ValueSet } from '@medplum/fhirtypes';
import referralReasons from '../../terminology/ValueSet-social-prescribing-referral-reasons.json' with {
  type: 'json',
};

/** Codes of a ValueSet's enumerated `compose.include` concepts, keyed `system|code`. */
function enumerate(valueSet: ValueSet): ReadonlySet<string> {
  const codes = new Set<string>();
  for (const include of valueSet.compose?.include ?? []) {
    for (const concept of include.concept ?? []) codes.add(`${include.system}|${concept.code}`);
  }
  return codes;
}

export const REFERRAL_REASONS = referralReasons as ValueSet;
const REFERRAL_REASON_CODES = enumerate(REFERRAL_REASONS);

export function isReferralReason(coding: Coding): boolean {
  return REFERRAL_REASON_CODES.has(`${coding.system}|${coding.code}`);
}
