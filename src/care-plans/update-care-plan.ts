import type { CarePlan } from '@medplum/fhirtypes';
import { agentOf, type RequestContext } from '../auth/principal.ts';
import { partyLabels, seenOnlyAsTeamMember } from '../auth/tenancy.ts';
import { FhirError } from '../fhir/outcomes.ts';
import { profileErrors } from '../fhir/profiles.ts';
import { toProvenance } from '../mapping/to-provenance.ts';
import { requireReceiver } from '../workflow/referral-record.ts';
import { beginUpdate, patched, replacementOf } from '../workflow/versioned-update.ts';
import { postEntry } from '../workflow/writes.ts';
import { planContentIssues, planMoveRefusal, referralOf } from './care-plan-rules.ts';
import { type CarePlanDeps, NOT_THE_RECEIVER } from './create-care-plan.ts';
import { referralNamed } from './plan-referral.ts';
import { planServiceIssues } from './plan-services.ts';

/**
 * `PUT /fhir/CarePlan/{id}` with `If-Match`: the plan's content and status move on; the
 * referral and person it belongs to do not change, and an ended plan does not change at all.
 */
export async function updateCarePlan(
  deps: CarePlanDeps,
  ctx: RequestContext,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<CarePlan> {
  const next = replacementOf<CarePlan>('CarePlan', id, body);
  const { stored, version } = await beginUpdate<CarePlan>(deps.store, ctx, 'CarePlan', id, ifMatch);
  return applyPlanUpdate(deps, ctx, stored, next, version);
}

/** `PATCH /fhir/CarePlan/{id}` (JSON Patch) with `If-Match`: the patched plan, then the same update. */
export async function patchCarePlan(
  deps: CarePlanDeps,
  ctx: RequestContext,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<CarePlan> {
  const { stored, version } = await beginUpdate<CarePlan>(deps.store, ctx, 'CarePlan', id, ifMatch);
  return applyPlanUpdate(deps, ctx, stored, patched(stored, body), version);
}

/** Checks an update of a stored plan (by its keeper, at the version read) and writes it. */
async function applyPlanUpdate(
  deps: CarePlanDeps,
  ctx: RequestContext,
  stored: CarePlan,
  next: CarePlan,
  version: string,
): Promise<CarePlan> {
  const id = stored.id as string;
  // A member of the person's care team reads the plan; only the service keeping it writes it.
  if (seenOnlyAsTeamMember(ctx.principal, stored)) {
    throw new FhirError('forbidden', [{ code: 'forbidden', diagnostics: NOT_THE_RECEIVER }]);
  }
  const srRef = referralOf(stored) as string;
  const { task } = await referralNamed(deps.store, ctx, srRef, 'CarePlan.supportingInfo');
  await requireReceiver(deps.store, ctx, task, NOT_THE_RECEIVER);
  const refusal = planMoveRefusal(stored.status, next.status);
  if (refusal) {
    throw new FhirError('conflict', [
      { code: 'business-rule', diagnostics: refusal, expression: ['CarePlan.status'] },
    ]);
  }
  const issues = planContentIssues({ carePlan: next, at: 'CarePlan', goals: [] });
  // The plan's goals and team stay its own: the team changes by PUT CareTeam, which keeps what is
  // shared with it in line; another team or goal named here would not be.
  for (const key of ['subject', 'intent', 'careTeam', 'goal'] as const) {
    if (JSON.stringify(next[key]) !== JSON.stringify(stored[key])) {
      issues.push({
        code: 'business-rule',
        diagnostics: `A care plan's ${key} does not change`,
        expression: [`CarePlan.${key}`],
      });
    }
  }
  if (referralOf(next) !== srRef) {
    issues.push({
      code: 'business-rule',
      diagnostics: 'A care plan stays with its referral (the ServiceRequest in supportingInfo)',
      expression: ['CarePlan.supportingInfo'],
    });
  }
  issues.push(...profileErrors(next, issues, { at: 'CarePlan' }));
  issues.push(...(await planServiceIssues(deps.store, next, 'CarePlan', stored)));
  if (issues.length) throw new FhirError('invalid', issues);

  const security = stored.meta?.security ?? [];
  const provenance = toProvenance({
    targets: [{ reference: `CarePlan/${id}` }],
    recorded: deps.clock().toISOString(),
    agent: agentOf(ctx),
    requestId: ctx.requestId,
    activity: 'UPDATE',
  });
  const response = await deps.store.bundle({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        resource: { ...next, meta: { ...stored.meta, security } },
        request: { method: 'PUT', url: `CarePlan/${id}`, ifMatch: `W/"${version}"` },
      },
      // Who changed the plan is the parties' record, not shared with the care team.
      postEntry({ ...provenance, meta: { security: partyLabels(stored) } }),
    ],
  });
  const written = response.entry?.[0]?.resource as CarePlan | undefined;
  if (!written?.id) {
    throw new FhirError('precondition-failed', [
      {
        code: 'conflict',
        diagnostics: 'The care plan changed while this update was being written; read it again',
      },
    ]);
  }
  ctx.touched.push(`CarePlan/${id}`);
  return written;
}
