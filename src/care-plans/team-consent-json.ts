import type { CarePlan, Consent } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { Failures, FhirError, invalidBody } from '../fhir/outcomes.ts';
import { OPT_IN_PRIVACY_CONSENT } from '../mapping/consent-codes.ts';
import { CareTeamConsentJsonSchema } from '../schemas/care-plan-json.ts';
import { parseLocalReference } from '../workflow/references.ts';
import { findReferral } from '../workflow/referral-record.ts';
import type { CarePlanDeps } from './create-care-plan.ts';
import { openPlanOf } from './plan-referral.ts';
import { recordTeamConsent, type SharingResult, updateTeamConsent } from './team-sharing.ts';
import { consentInForce, consentShares, INFORMATION_RECIPIENT } from './team-sharing-rules.ts';

/** A care-team consent as the FHIR form records it: the person permits sharing the plan with its team. */
function teamConsent(plan: CarePlan, team: string, dateTime: string): Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    ...OPT_IN_PRIVACY_CONSENT,
    patient: plan.subject as Consent['patient'],
    dateTime,
    provision: {
      type: 'permit',
      actor: [{ role: { coding: [{ ...INFORMATION_RECIPIENT }] }, reference: { reference: team } }],
      data: [{ meaning: 'related', reference: { reference: `CarePlan/${plan.id}` } }],
    },
  };
}

/**
 * `POST /referrals/{id}/care-team/consent`: the person's decision recorded by a tool without FHIR,
 * on the referral's open plan and its team: `share` records their consent (as `POST /fhir/Consent`
 * does), `withdraw` withdraws the one in force (as `PUT /fhir/Consent/{id}` to `inactive` does).
 */
export async function recordTeamConsentFromJson(
  deps: CarePlanDeps,
  ctx: RequestContext,
  serviceRequestId: string,
  body: unknown,
): Promise<SharingResult<Consent>> {
  authorize(ctx.principal, 'Consent', 'c');
  const parsed = CareTeamConsentJsonSchema.safeParse(body);
  if (!parsed.success) throw invalidBody(parsed.error);
  const referral = await findReferral(deps.store, ctx, serviceRequestId);
  if (!referral) throw Failures.notFound();
  const plan = await openPlanOf(deps.store, referral.serviceRequest);
  const team = plan?.careTeam?.find((r) => parseLocalReference(r.reference)?.type === 'CareTeam')?.reference;
  if (!plan || !team) {
    throw new FhirError('conflict', [
      {
        code: 'business-rule',
        diagnostics: 'The referral has no open care plan with a care team to share it with',
      },
    ]);
  }
  if (parsed.data.decision === 'share') {
    return recordTeamConsent(
      deps,
      ctx,
      teamConsent(plan, team, parsed.data.date ?? deps.clock().toISOString()),
    );
  }
  const found = await deps.store.search('Consent', { actor: team, _sort: '_lastUpdated', _count: '1000' });
  const inForce = consentInForce((found.entry ?? []).map((e) => e.resource as Consent));
  if (!inForce?.id || !consentShares(inForce)) {
    throw new FhirError('conflict', [
      { code: 'business-rule', diagnostics: 'No consent to share the care plan with its team is in force' },
    ]);
  }
  return updateTeamConsent(
    deps,
    ctx,
    inForce.id,
    { ...inForce, status: 'inactive' },
    `W/"${inForce.meta?.versionId}"`,
  );
}
