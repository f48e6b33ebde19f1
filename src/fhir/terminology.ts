import type { CodeSystem, Coding, ValueSet } from '@medplum/fhirtypes';
import careTeamRoles from '../../terminology/CodeSystem-care-team-role.json' with { type: 'json' };
import businessStatus from '../../terminology/CodeSystem-referral-business-status.json' with { type: 'json' };
import activityCategories from '../../terminology/CodeSystem-social-prescribing-activity-category.json' with {
  type: 'json',
};
import careTeamRoleSet from '../../terminology/ValueSet-care-team-role.json' with { type: 'json' };
import businessStatusSet from '../../terminology/ValueSet-referral-business-status.json' with {
  type: 'json',
};
import taskStatusSet from '../../terminology/ValueSet-referral-task-status.json' with { type: 'json' };
import activityCategorySet from '../../terminology/ValueSet-social-prescribing-activity-category.json' with {
  type: 'json',
};
import referralReasons from '../../terminology/ValueSet-social-prescribing-referral-reasons.json' with {
  type: 'json',
};
import bound from './definitions/value-sets.json' with { type: 'json' };

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

export const REFERRAL_BUSINESS_STATUS = businessStatus as CodeSystem;
export const ACTIVITY_CATEGORIES = activityCategories as CodeSystem;
export const CARE_TEAM_ROLES = careTeamRoles as CodeSystem;

/** Whether the coding is a concept of the code system (same system, a defined code). */
export function inCodeSystem(codeSystem: CodeSystem, coding: Coding): boolean {
  return coding.system === codeSystem.url && (codeSystem.concept ?? []).some((c) => c.code === coding.code);
}

/** The concept's display in the code system, if it has that code. */
export function displayOf(codeSystem: CodeSystem, code: string): string | undefined {
  return codeSystem.concept?.find((c) => c.code === code)?.display;
}

/** The service's own value sets (terminology/). */
const OWN_VALUE_SETS = [
  referralReasons,
  taskStatusSet,
  businessStatusSet,
  activityCategorySet,
  careTeamRoleSet,
] as ValueSet[];

/**
 * The value sets the service publishes: its own, then the HL7 ones its profiles bind (and those
 * they include), kept slim at build time (npm run build:profiles) so every binding resolves here.
 */
export const VALUE_SETS: readonly ValueSet[] = [...OWN_VALUE_SETS, ...(bound.valueSets as ValueSet[])];
export const CODE_SYSTEMS: readonly CodeSystem[] = [
  REFERRAL_BUSINESS_STATUS,
  ACTIVITY_CATEGORIES,
  CARE_TEAM_ROLES,
];

export interface ExpandedConcept {
  system: string;
  code: string;
  display?: string;
}

/** Expansions made at build time, by value set URL, for the HL7 value sets that can be expanded. */
const BUILT_EXPANSIONS = bound.expansions as Record<string, ExpandedConcept[]>;

/**
 * Every concept of a published value set; undefined when it cannot be expanded here (it draws on
 * a code system by filter, SNOMED CT or LOINC say, and there is no terminology server).
 */
export function expand(valueSet: ValueSet): ExpandedConcept[] | undefined {
  const built = valueSet.url ? BUILT_EXPANSIONS[valueSet.url] : undefined;
  if (built || !OWN_VALUE_SETS.includes(valueSet)) return built;
  const concepts: ExpandedConcept[] = [];
  for (const include of valueSet.compose?.include ?? []) {
    const system = include.system as string;
    const listed = include.concept ?? CODE_SYSTEMS.find((cs) => cs.url === system)?.concept ?? [];
    for (const concept of listed) {
      concepts.push({
        system,
        code: concept.code as string,
        ...(concept.display ? { display: concept.display } : {}),
      });
    }
  }
  return concepts;
}
