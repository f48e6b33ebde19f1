import type { Bundle, BundleEntry, CarePlan, CareTeam, Goal, Patient, Reference } from '@medplum/fhirtypes';
import { agentOf, authorize, type RequestContext } from '../auth/principal.ts';
import { withAccess } from '../auth/tenancy.ts';
import { FhirError, type Issue } from '../fhir/outcomes.ts';
import { profileErrors } from '../fhir/profiles.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import { requireShape } from '../fhir/shape.ts';
import { toProvenance } from '../mapping/to-provenance.ts';
import type { FhirStore } from '../medplum/store.ts';
import type { KeyedLocks } from '../referrals/locks.ts';
import { requireReceiver } from '../workflow/referral-record.ts';
import { accessOf, forCreate, postEntry, writtenResources } from '../workflow/writes.ts';
import {
  type CarePlanInput,
  planContentIssues,
  referralOf,
  TASK_STATUSES_FOR_PLANNING,
} from './care-plan-rules.ts';
import { openPlanOf, referralNamed } from './plan-referral.ts';
import { planServiceIssues } from './plan-services.ts';

export interface CarePlanDeps {
  store: FhirStore;
  locks: KeyedLocks;
  clock: () => Date;
  newId: () => string;
}

export interface CarePlanResult {
  carePlan: CarePlan;
  goals: Goal[];
  careTeam?: CareTeam;
}

export const NOT_THE_RECEIVER = 'Only the service the referral was sent to writes its care plan';

/**
 * Creates the one care plan of a referral: written by the receiving service once it has accepted
 * the referral, for the referral's person, with its Goals and CareTeam, in one transaction with a
 * Provenance. A second open plan for the same referral is a conflict.
 */
export async function createCarePlan(
  deps: CarePlanDeps,
  ctx: RequestContext,
  input: CarePlanInput,
): Promise<CarePlanResult> {
  authorize(ctx.principal, 'CarePlan', 'c');
  const { carePlan, at } = input;
  requireShape(carePlan, at);
  for (const goal of input.goals) requireShape(goal.resource, goal.at);
  if (input.careTeam) requireShape(input.careTeam.resource, input.careTeam.at);
  const issues = planContentIssues(input);
  if (!['draft', 'active'].includes(carePlan.status)) {
    issues.push({
      code: 'value',
      diagnostics: 'A new care plan is draft or active',
      expression: [`${at}.status`],
    });
  }
  const srRef = referralOf(carePlan);
  if (!srRef) {
    issues.push({
      code: 'required',
      diagnostics:
        'A care plan names exactly one referral among its supportingInfo (a reference to ServiceRequest/{id})',
      expression: [`${at}.supportingInfo`],
    });
    throw new FhirError('invalid', issues);
  }
  const { serviceRequest, task } = await referralNamed(deps.store, ctx, srRef, `${at}.supportingInfo`);
  await requireReceiver(deps.store, ctx, task, NOT_THE_RECEIVER);
  if (carePlan.subject?.reference !== serviceRequest.subject?.reference) {
    issues.push({
      code: 'invariant',
      diagnostics: `The care plan's subject must be the referral's (${serviceRequest.subject?.reference})`,
      expression: [`${at}.subject`],
    });
  }
  if (!TASK_STATUSES_FOR_PLANNING.includes(task.status)) {
    throw new FhirError('conflict', [
      {
        code: 'business-rule',
        diagnostics: `The referral is ${task.status}: a care plan is written once the referral has been accepted`,
        expression: [`${at}.supportingInfo`],
      },
    ]);
  }
  // A plan's team is its own, written with it: never another plan's (what is shared follows it).
  const teamRefs = (carePlan.careTeam ?? []).map((t) => t.reference);
  const inline = input.careTeam?.fullUrl;
  if (teamRefs.length > 1 || (teamRefs.length === 1 && (!inline || teamRefs[0] !== inline))) {
    issues.push({
      code: 'business-rule',
      diagnostics: 'A care plan names at most one care team, the CareTeam written with it',
      expression: [`${at}.careTeam`],
    });
  }
  issues.push(...profileIssues(input, issues));
  issues.push(...(await planServiceIssues(deps.store, carePlan, at)));
  if (issues.length) throw new FhirError('invalid', issues);

  return deps.locks.withLocks([`CarePlan|${srRef}`], async () => {
    const existing = await openPlanOf(deps.store, serviceRequest);
    if (existing) {
      throw new FhirError('conflict', [
        {
          code: 'duplicate',
          diagnostics: `The referral already has an open care plan (CarePlan/${existing.id}); update it, or complete or revoke it first`,
          expression: [`${at}.supportingInfo`],
        },
      ]);
    }
    const transaction = planTransaction(
      deps,
      ctx,
      input,
      serviceRequest.subject as Reference<Patient>,
      accessOf(serviceRequest),
    );
    const written = writtenResources(transaction, await deps.store.bundle(transaction), 'care plan');
    const goals = written.slice(0, input.goals.length) as Goal[];
    const careTeam = input.careTeam ? (written[input.goals.length] as CareTeam) : undefined;
    const plan = written.at(-2) as CarePlan;
    ctx.touched.push(...written.slice(0, -1).map((r) => `${r.resourceType}/${r.id}`));
    return { carePlan: plan, goals, ...(careTeam ? { careTeam } : {}) };
  });
}

function profileIssues(input: CarePlanInput, found: Issue[]): Issue[] {
  const issues = profileErrors(input.carePlan, found, { at: input.at });
  for (const goal of input.goals) issues.push(...profileErrors(goal.resource, found, { at: goal.at }));
  if (input.careTeam)
    issues.push(...profileErrors(input.careTeam.resource, found, { at: input.careTeam.at }));
  return issues;
}

/** Goals, care team, plan and Provenance, in that order, as one transaction. */
function planTransaction(
  deps: CarePlanDeps,
  ctx: RequestContext,
  input: CarePlanInput,
  subject: Reference<Patient>,
  access: string[],
): Bundle {
  const now = deps.clock().toISOString();
  const urn = () => `urn:uuid:${deps.newId()}`;
  const goals = input.goals.map((g) => ({ ...g, fullUrl: g.fullUrl ?? urn() }));
  const team = input.careTeam ? { ...input.careTeam, fullUrl: input.careTeam.fullUrl ?? urn() } : undefined;
  const labelled = <T extends Goal | CareTeam | CarePlan>(resource: T) =>
    withAccess(forCreate(resource), access);
  const { carePlan } = input;
  const entries: BundleEntry[] = [
    ...goals.map((g) => postEntry(labelled({ ...g.resource, subject }), g.fullUrl)),
    ...(team ? [postEntry(labelled({ ...team.resource, subject }), team.fullUrl)] : []),
    postEntry(
      labelled({
        ...carePlan,
        created: carePlan.created ?? now,
        goal: carePlan.goal ?? goals.map((g) => ({ reference: g.fullUrl })),
        ...(team && !carePlan.careTeam ? { careTeam: [{ reference: team.fullUrl }] } : {}),
      }),
      urn(),
    ),
  ];
  const provenance = toProvenance({
    targets: entries.map((e) => ({ reference: e.fullUrl as string })),
    recorded: now,
    agent: agentOf(ctx),
    requestId: ctx.requestId,
    activity: 'CREATE',
  });
  entries.push(postEntry(withAccess(provenance, access)));
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}

/** The care plan and what was written with it, as the caller sees them. */
export function publicResult(result: CarePlanResult): CarePlanResult {
  return {
    carePlan: toPublicResource(result.carePlan),
    goals: result.goals.map(toPublicResource),
    ...(result.careTeam ? { careTeam: toPublicResource(result.careTeam) } : {}),
  };
}
