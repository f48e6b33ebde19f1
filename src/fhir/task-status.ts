import type { Task } from '@medplum/fhirtypes';

export type TaskStatus = Task['status'];

/**
 * The referral Task's state machine (HL7 SDOH Clinical Care referral management, DOMAIN.md
 * section 4.4): where each status may go next. `entered-in-error` is reachable from anywhere.
 */
const NEXT: Partial<Record<TaskStatus, readonly TaskStatus[]>> = {
  draft: ['requested'],
  requested: ['accepted', 'rejected', 'cancelled'],
  accepted: ['in-progress', 'on-hold', 'cancelled', 'completed', 'failed'],
  'in-progress': ['on-hold', 'cancelled', 'completed', 'failed'],
  'on-hold': ['in-progress', 'cancelled', 'completed', 'failed'],
};

export const TERMINAL: ReadonlySet<TaskStatus> = new Set([
  'rejected',
  'cancelled',
  'completed',
  'failed',
  'entered-in-error',
]);

/** Statuses that need a `statusReason` saying why. */
export const NEEDS_REASON: ReadonlySet<TaskStatus> = new Set(['rejected', 'cancelled', 'on-hold', 'failed']);

/** Statuses only the receiving service sets; the referrer may only withdraw (or void) its referral. */
export const REQUESTER_MAY_SET: ReadonlySet<TaskStatus> = new Set(['cancelled', 'entered-in-error']);

/** The statuses `from` may move to. */
export function nextStatuses(from: TaskStatus): TaskStatus[] {
  if (from === 'entered-in-error') return [];
  return [...(NEXT[from] ?? []), 'entered-in-error'];
}

export function canMove(from: TaskStatus, to: TaskStatus): boolean {
  return nextStatuses(from).includes(to);
}

/** What the referral's ServiceRequest becomes when its Task ends this way (unchanged otherwise). */
export function serviceRequestStatusFor(
  task: TaskStatus,
): 'completed' | 'revoked' | 'entered-in-error' | undefined {
  if (task === 'completed') return 'completed';
  if (task === 'rejected' || task === 'cancelled' || task === 'failed') return 'revoked';
  if (task === 'entered-in-error') return 'entered-in-error';
  return undefined;
}
