import type { Task } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { Failures, FhirError } from '../fhir/outcomes.ts';
import type { TaskStatus } from '../fhir/task-status.ts';
import { REFERRAL_BUSINESS_STATUS } from '../fhir/terminology.ts';
import { StoreError } from '../medplum/errors.ts';
import { findReferral } from '../workflow/referral-record.ts';
import { type TaskDeps, type TaskResult, transition } from './task-transition.ts';

/** The plain operations (`POST /referrals/{id}/$accept` and the rest) for tools without FHIR. */
export const ACTIONS = {
  accept: 'accepted',
  decline: 'rejected',
  start: 'in-progress',
  hold: 'on-hold',
  resume: 'in-progress',
  complete: 'completed',
  cancel: 'cancelled',
  fail: 'failed',
  progress: undefined,
} as const satisfies Record<string, TaskStatus | undefined>;

export type Action = keyof typeof ACTIONS;

export interface ActionInput {
  /** Why (required to decline, cancel, hold or fail). */
  reason?: string;
  /** A step from the referral progress code system, e.g. `contacted`. */
  businessStatus?: string;
  note?: string;
}

/** Moves the referral (by its ServiceRequest id) on by one named step. */
export async function actOnReferral(
  deps: TaskDeps,
  ctx: RequestContext,
  serviceRequestId: string,
  action: Action,
  input: ActionInput,
): Promise<TaskResult> {
  authorize(ctx.principal, 'Task', 'u');
  // Concurrent operations on one referral race on its Task's version; the losers read it again,
  // so that the same operation repeated finds it done and writes nothing.
  for (let attempt = 1; ; attempt++) {
    try {
      return await actOnce(deps, ctx, serviceRequestId, action, input);
    } catch (err) {
      const raced =
        (err instanceof FhirError && err.kind === 'precondition-failed') ||
        (err instanceof StoreError && err.refusal === 'precondition-failed');
      if (!raced || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

const MAX_ATTEMPTS = 3;

async function actOnce(
  deps: TaskDeps,
  ctx: RequestContext,
  serviceRequestId: string,
  action: Action,
  input: ActionInput,
): Promise<TaskResult> {
  const referral = await findReferral(deps.store, ctx, serviceRequestId);
  if (!referral) throw Failures.notFound();
  const stored = referral.task;
  const businessStatus =
    action === 'decline' && !input.businessStatus ? 'declined-by-person' : input.businessStatus;
  const next: Task = {
    ...stored,
    status: ACTIONS[action] ?? stored.status,
    ...(businessStatus
      ? { businessStatus: { coding: [{ system: REFERRAL_BUSINESS_STATUS.url, code: businessStatus }] } }
      : {}),
    ...(input.reason ? { statusReason: { text: input.reason } } : {}),
    // A note already last on the Task is the same operation repeated: not added twice.
    ...(input.note && stored.note?.at(-1)?.text !== input.note
      ? { note: [...(stored.note ?? []), { text: input.note, time: deps.clock().toISOString() }] }
      : {}),
  };
  return transition(deps, ctx, stored, next, referral.serviceRequest);
}
