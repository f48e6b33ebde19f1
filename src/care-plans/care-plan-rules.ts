import type { CarePlan, CareTeam, Goal } from '@medplum/fhirtypes';
import type { Issue } from '../fhir/outcomes.ts';
import { ACTIVITY_CATEGORIES, CARE_TEAM_ROLES, inCodeSystem } from '../fhir/terminology.ts';
import { parseLocalReference } from '../workflow/references.ts';

/** A care plan as sent: the CarePlan, and the Goals and CareTeam sent with it (by `urn:uuid`). */
export interface CarePlanInput {
  carePlan: CarePlan;
  /** FHIRPath of the CarePlan in the request, for issue expressions (`CarePlan` or a Bundle entry). */
  at: string;
  goals: { fullUrl?: string; resource: Goal; at: string }[];
  careTeam?: { fullUrl?: string; resource: CareTeam; at: string };
}

/** Statuses of a plan that is still open: a referral has at most one such plan. */
export const OPEN_STATUSES = ['draft', 'active', 'on-hold'] as const;

/** Where a care plan's status may go (request-status, as a plan's lifecycle). */
const PLAN_NEXT: Readonly<Record<string, readonly string[]>> = {
  draft: ['active', 'revoked', 'entered-in-error'],
  active: ['on-hold', 'completed', 'revoked', 'entered-in-error'],
  'on-hold': ['active', 'completed', 'revoked', 'entered-in-error'],
};

/** Referral Task statuses in which its care plan may be written. */
export const TASK_STATUSES_FOR_PLANNING: readonly string[] = ['accepted', 'in-progress', 'on-hold'];

/** Why a plan may not go from one status to another, or undefined when it may. */
export function planMoveRefusal(from: string, to: string): string | undefined {
  const allowed = PLAN_NEXT[from];
  if (!allowed) return `The care plan has ended (${from}) and cannot change`;
  if (from === to || allowed.includes(to)) return undefined;
  return `A care plan cannot go from ${from} to ${to}; it can go to ${allowed.join(', ')}`;
}

/**
 * The referral a care plan belongs to: the one ServiceRequest among its `supportingInfo`. R4's
 * `CarePlan.basedOn` may only point at another CarePlan, and Medplum checks reference targets,
 * so the referral is carried where any resource may be named.
 */
export function referralOf(carePlan: CarePlan): string | undefined {
  const referrals = (carePlan.supportingInfo ?? [])
    .map((r) => r.reference)
    .filter((r): r is string => parseLocalReference(r)?.type === 'ServiceRequest');
  return referrals.length === 1 ? referrals[0] : undefined;
}

/** Intent, activities (a category from the activity code system, a status), goals and team roles. */
export function planContentIssues(input: CarePlanInput): Issue[] {
  const { carePlan, at } = input;
  const issues: Issue[] = [];
  if (carePlan.intent !== 'plan') {
    issues.push({ code: 'value', diagnostics: 'A care plan has intent plan', expression: [`${at}.intent`] });
  }
  for (const [i, activity] of (carePlan.activity ?? []).entries()) {
    issues.push(...activityIssues(activity, `${at}.activity[${i}]`));
  }
  for (const goal of input.goals) issues.push(...goalIssues(goal.resource, goal.at));
  for (const [i, participant] of (input.careTeam?.resource.participant ?? []).entries()) {
    const roles = participant.role?.flatMap((r) => r.coding ?? []) ?? [];
    if (!roles.some((c) => inCodeSystem(CARE_TEAM_ROLES, c))) {
      issues.push({
        code: 'code-invalid',
        diagnostics: `A care team member needs a role from ${CARE_TEAM_ROLES.url}`,
        expression: [`${input.careTeam?.at}.participant[${i}].role`],
      });
    }
  }
  return issues;
}

function activityIssues(activity: NonNullable<CarePlan['activity']>[number], path: string): Issue[] {
  if (!activity.detail) {
    return [
      {
        code: 'required',
        diagnostics: 'Each activity is described in detail (a reference to another request is not supported)',
        expression: [`${path}.detail`],
      },
    ];
  }
  const issues: Issue[] = [];
  if (!activity.detail.code?.coding?.some((c) => inCodeSystem(ACTIVITY_CATEGORIES, c))) {
    issues.push({
      code: 'code-invalid',
      diagnostics: `An activity needs a category from ${ACTIVITY_CATEGORIES.url} (${(ACTIVITY_CATEGORIES.concept ?? []).map((c) => c.code).join(', ')})`,
      expression: [`${path}.detail.code`],
    });
  }
  if (!activity.detail.status) {
    issues.push({
      code: 'required',
      diagnostics: 'Each activity has a status',
      expression: [`${path}.detail.status`],
    });
  }
  return issues;
}

function goalIssues(goal: Goal, at: string): Issue[] {
  if (goal.resourceType !== 'Goal') return [];
  const issues: Issue[] = [];
  if (!goal.description?.text) {
    issues.push({
      code: 'required',
      diagnostics: 'A goal says what it is',
      expression: [`${at}.description`],
    });
  }
  if (!goal.lifecycleStatus) {
    issues.push({
      code: 'required',
      diagnostics: 'A goal has a lifecycleStatus',
      expression: [`${at}.lifecycleStatus`],
    });
  }
  return issues;
}
