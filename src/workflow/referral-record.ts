import type { ServiceRequest, Task } from '@medplum/fhirtypes';
import type { RequestContext } from '../auth/principal.ts';
import { isVisible } from '../auth/tenancy.ts';
import { FhirError } from '../fhir/outcomes.ts';
import { type FhirStore, readIfExists } from '../medplum/store.ts';
import { organisationOdsOf } from './organisations.ts';

/** A referral as stored: its ServiceRequest and the Task that tracks it. */
export interface ReferralRecord {
  serviceRequest: ServiceRequest;
  task: Task;
}

/** The Task tracking a referral (the latest, should there ever be two), if any. */
export async function taskOfReferral(store: FhirStore, serviceRequestId: string): Promise<Task | undefined> {
  const found = await store.search('Task', {
    focus: `ServiceRequest/${serviceRequestId}`,
    _sort: '-_lastUpdated',
    _count: '1',
  });
  return found.entry?.[0]?.resource as Task | undefined;
}

/**
 * The referral with this ServiceRequest id and its Task, when both exist and the caller may see
 * them; undefined otherwise (missing and not the caller's are the same answer).
 */
export async function findReferral(
  store: FhirStore,
  ctx: RequestContext,
  serviceRequestId: string,
): Promise<ReferralRecord | undefined> {
  const serviceRequest = await readIfExists<ServiceRequest>(store, 'ServiceRequest', serviceRequestId);
  if (!serviceRequest || !isVisible(ctx.principal, serviceRequest)) return undefined;
  const task = await taskOfReferral(store, serviceRequestId);
  if (!task || !isVisible(ctx.principal, task)) return undefined;
  return { serviceRequest, task };
}

/** The caller's part in a referral: the service it was sent to, the one that sent it, or neither. */
export type ReferralPart = 'receiver' | 'requester' | 'none';

export async function partInReferral(
  store: FhirStore,
  ctx: RequestContext,
  task: Task,
): Promise<ReferralPart> {
  const organization = ctx.principal.organization;
  // The open local mode has no organisations to tell apart: it acts as the service.
  if (organization === undefined) return 'receiver';
  if ((await organisationOdsOf(store, task.owner)) === organization) return 'receiver';
  if ((await organisationOdsOf(store, task.requester)) === organization) return 'requester';
  return 'none';
}

/** Care plans and their outcomes are written by the service the referral was sent to. */
export async function requireReceiver(
  store: FhirStore,
  ctx: RequestContext,
  task: Task,
  diagnostics: string,
): Promise<void> {
  if ((await partInReferral(store, ctx, task)) !== 'receiver') {
    throw new FhirError('forbidden', [{ code: 'forbidden', diagnostics }]);
  }
}
