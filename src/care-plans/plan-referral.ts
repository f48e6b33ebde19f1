import type { CarePlan, ServiceRequest } from '@medplum/fhirtypes';
import type { RequestContext } from '../auth/principal.ts';
import { FhirError } from '../fhir/outcomes.ts';
import type { FhirStore } from '../medplum/store.ts';
import { parseLocalReference } from '../workflow/references.ts';
import { findReferral, type ReferralRecord } from '../workflow/referral-record.ts';
import { OPEN_STATUSES, referralOf } from './care-plan-rules.ts';

/**
 * The stored referral a care plan (or a measure) names, found as the caller may see it; a name
 * that leads nowhere is the request's fault, reported at `expression`.
 */
export async function referralNamed(
  store: FhirStore,
  ctx: RequestContext,
  srRef: string,
  expression: string,
): Promise<ReferralRecord> {
  const target = parseLocalReference(srRef);
  const found = target?.type === 'ServiceRequest' ? await findReferral(store, ctx, target.id) : undefined;
  if (!found) {
    throw new FhirError('invalid', [
      {
        code: 'not-found',
        diagnostics: 'The care plan does not name a referral stored here',
        expression: [expression],
      },
    ]);
  }
  return found;
}

/** The referral's care plan that is still open (draft, active or on hold), if any. */
export async function openPlanOf(
  store: FhirStore,
  serviceRequest: ServiceRequest,
): Promise<CarePlan | undefined> {
  const plans = await store.search('CarePlan', {
    patient: serviceRequest.subject?.reference ?? '',
    status: OPEN_STATUSES.join(','),
    _count: '100',
  });
  const srRef = `ServiceRequest/${serviceRequest.id}`;
  return (plans.entry ?? []).map((e) => e.resource as CarePlan).find((plan) => referralOf(plan) === srRef);
}
