import type { Reference, Task } from '@medplum/fhirtypes';
import { SYSTEM } from '../fhir/systems.ts';

export interface TaskInput {
  serviceRequest: Reference;
  patient: Reference;
  requester: NonNullable<Task['requester']>;
  owner: NonNullable<Task['owner']>;
  authoredOn: string;
}

/**
 * The Task that tracks a new referral (SDOH Clinical Care referral management pattern): code
 * `fulfill`, focus the ServiceRequest, status `requested`, owned by the receiving service.
 */
export function toReferralTask(input: TaskInput): Task {
  return {
    resourceType: 'Task',
    status: 'requested',
    intent: 'order',
    code: { coding: [{ system: SYSTEM.taskCode, code: 'fulfill', display: 'Fulfill the focal request' }] },
    focus: input.serviceRequest,
    for: input.patient,
    authoredOn: input.authoredOn,
    lastModified: input.authoredOn,
    requester: input.requester,
    owner: input.owner,
  };
}
