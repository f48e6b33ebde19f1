import type {
  Bundle,
  BundleEntry,
  CodeableConcept,
  Coding,
  Provenance,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { agentOf, type RequestContext } from '../auth/principal.ts';
import { partyLabels } from '../auth/tenancy.ts';
import { FhirError, type Issue } from '../fhir/outcomes.ts';
import { profileErrors } from '../fhir/profiles.ts';
import {
  OWN_SYSTEM,
  REFERRAL_TO_SOCIAL_PRESCRIBING,
  SOCIAL_PRESCRIBING_DECLINED,
  SYSTEM,
} from '../fhir/systems.ts';
import {
  canMove,
  NEEDS_REASON,
  nextStatuses,
  REQUESTER_MAY_SET,
  serviceRequestStatusFor,
  type TaskStatus,
  TERMINAL,
} from '../fhir/task-status.ts';
import { inCodeSystem, REFERRAL_BUSINESS_STATUS } from '../fhir/terminology.ts';
import { toProvenance } from '../mapping/to-provenance.ts';
import type { FhirStore } from '../medplum/store.ts';
import { parseLocalReference } from '../workflow/references.ts';
import { partInReferral, type ReferralPart } from '../workflow/referral-record.ts';

export interface TaskDeps {
  store: FhirStore;
  clock: () => Date;
}

export interface TaskResult {
  task: Task;
  serviceRequest: ServiceRequest;
}

/** The parts of a referral Task that record its progress; only these are ever changed. */
const PROGRESS = ['status', 'businessStatus', 'statusReason', 'note', 'executionPeriod'] as const;

/**
 * Checks the move against the state machine and the caller's part in the referral (the receiving
 * service moves it on; the referrer may only withdraw it), then writes the Task, the
 * ServiceRequest's following status and a Provenance in one transaction. A move that changes
 * nothing writes nothing, so a repeated plain operation is answered with the current state.
 */
export async function transition(
  deps: TaskDeps,
  ctx: RequestContext,
  stored: Task,
  next: Task,
  /** The referral's ServiceRequest, when the caller has already read it. */
  known?: ServiceRequest,
): Promise<TaskResult> {
  const part = await partInReferral(deps.store, ctx, stored);
  const issues = moveIssues(stored, next, part);
  if (issues.length) throw new FhirError('invalid', issues);

  const target = parseLocalReference(stored.focus?.reference);
  if (target?.type !== 'ServiceRequest') {
    throw new FhirError('invalid', [
      { code: 'invalid', diagnostics: 'The Task does not focus a ServiceRequest' },
    ]);
  }
  const serviceRequest =
    known?.id === target.id ? known : await deps.store.read<ServiceRequest>('ServiceRequest', target.id);
  const srRef = `ServiceRequest/${target.id}`;
  ctx.touched.push(`Task/${stored.id}`, srRef);
  if (PROGRESS.every((key) => JSON.stringify(next[key]) === JSON.stringify(stored[key]))) {
    return { task: stored, serviceRequest: await completeLastMove(deps, ctx, stored, serviceRequest) };
  }

  const now = deps.clock().toISOString();
  const task: Task = {
    ...stored,
    // Names this move, so that its Provenance can be found (or found missing) from the Task.
    meta: { ...stored.meta, tag: [...otherTags(stored), moveTag()] },
    status: next.status,
    ...pick(next, 'businessStatus', 'statusReason', 'note', 'executionPeriod'),
    lastModified: now,
    output: withNationalCode(stored, next.status, next.businessStatus),
  };
  if (!next.businessStatus) delete task.businessStatus;
  if (!next.statusReason) delete task.statusReason;
  const taskIssues = profileErrors(task, []);
  if (taskIssues.length) throw new FhirError('invalid', taskIssues);

  const srStatus = next.status !== stored.status ? serviceRequestStatusFor(next.status) : undefined;
  const followed =
    srStatus && serviceRequest.status !== srStatus ? { ...serviceRequest, status: srStatus } : undefined;
  const provenance = toProvenance({
    targets: [{ reference: `Task/${stored.id}` }, ...(followed ? [{ reference: srRef }] : [])],
    recorded: now,
    agent: agentOf(ctx),
    requestId: ctx.requestId,
    activity: 'UPDATE',
  });
  const transaction: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        resource: task,
        request: { method: 'PUT', url: `Task/${stored.id}`, ifMatch: `W/"${stored.meta?.versionId}"` },
      },
      ...(followed
        ? [
            {
              resource: followed,
              request: {
                method: 'PUT' as const,
                url: srRef,
                ifMatch: `W/"${serviceRequest.meta?.versionId}"`,
              },
            },
          ]
        : []),
      moveProvenanceEntry(provenance, task, partyLabels(stored)),
    ],
  };
  const response = await deps.store.bundle(transaction);
  const failed = (response.entry ?? []).find((e) => !e.response?.status?.startsWith('2'));
  if (failed) {
    throw new FhirError(
      failed.response?.status?.startsWith('412') ? 'precondition-failed' : 'incomplete-write',
      [
        {
          code: 'conflict',
          diagnostics: 'The referral changed while this update was being written; read it again',
        },
      ],
    );
  }
  const written = response.entry?.[0]?.resource as Task;
  const writtenRequest = (followed ? response.entry?.[1]?.resource : serviceRequest) as ServiceRequest;
  return { task: written, serviceRequest: writtenRequest };
}

/** Whether the caller, in its part, may make this move; a refusal raises, problems are returned. */
function moveIssues(stored: Task, next: Task, part: ReferralPart): Issue[] {
  const from = stored.status;
  const to = next.status;
  if (part === 'none') {
    throw new FhirError('forbidden', [
      {
        code: 'forbidden',
        diagnostics: 'Only the receiving service or the referrer may change this referral',
      },
    ]);
  }
  const progressChanged =
    JSON.stringify(next.businessStatus) !== JSON.stringify(stored.businessStatus) ||
    JSON.stringify(next.statusReason) !== JSON.stringify(stored.statusReason);
  if (to !== from) {
    if (!canMove(from, to)) {
      const allowed = nextStatuses(from);
      throw new FhirError('conflict', [
        {
          code: 'business-rule',
          diagnostics: allowed.length
            ? `A referral cannot go from ${from} to ${to}; from ${from} it can go to ${allowed.join(', ')}`
            : `A referral cannot go from ${from} to ${to}; it has ended`,
          expression: ['Task.status'],
        },
      ]);
    }
    if (part === 'requester' && !REQUESTER_MAY_SET.has(to)) {
      throw new FhirError('forbidden', [
        {
          code: 'forbidden',
          diagnostics: `Only the receiving service can mark the referral ${to}; the referrer may cancel it`,
          expression: ['Task.status'],
        },
      ]);
    }
  } else if (progressChanged && TERMINAL.has(from)) {
    throw new FhirError('conflict', [
      { code: 'business-rule', diagnostics: `The referral has ended (${from}); its progress cannot change` },
    ]);
  }
  if (part === 'requester' && progressChanged && !REQUESTER_MAY_SET.has(to)) {
    throw new FhirError('forbidden', [
      { code: 'forbidden', diagnostics: 'Only the receiving service records the referral’s progress' },
    ]);
  }
  const issues: Issue[] = [];
  if (NEEDS_REASON.has(to) && to !== from && !next.statusReason?.text && !next.statusReason?.coding?.length) {
    issues.push({
      code: 'required',
      diagnostics: `A referral marked ${to} needs a statusReason saying why`,
      expression: ['Task.statusReason'],
    });
  }
  issues.push(...businessStatusIssues(next.businessStatus));
  return issues;
}

/** The Provenance of the move that made this version of the Task: conditional on its tag, so written once. */
const MOVE_PREFIX = 'move/';
const moveTag = (): Coding => ({
  system: OWN_SYSTEM.referralPart,
  code: `${MOVE_PREFIX}${crypto.randomUUID()}`,
});
const isMoveTag = (c: Coding) => c.system === OWN_SYSTEM.referralPart && c.code?.startsWith(MOVE_PREFIX);
const otherTags = (task: Task): Coding[] => (task.meta?.tag ?? []).filter((c) => !isMoveTag(c));

function moveProvenanceEntry(provenance: Provenance, task: Task, security: Coding[]): BundleEntry {
  const tag = task.meta?.tag?.find(isMoveTag) as Coding;
  return {
    resource: { ...provenance, meta: { security, tag: [tag] } },
    request: {
      method: 'POST',
      url: 'Provenance',
      ifNoneExist: `_tag=${encodeURIComponent(`${tag.system}|${tag.code}`)}`,
    },
  };
}

/**
 * Completes the Task's last move where a store applied only part of it (the Task changed, its
 * Provenance or the ServiceRequest's following status not written): a repeated request finds
 * nothing to change on the Task and makes the rest of the move whole.
 */
async function completeLastMove(
  deps: TaskDeps,
  ctx: RequestContext,
  task: Task,
  serviceRequest: ServiceRequest,
): Promise<ServiceRequest> {
  const move = task.meta?.tag?.find(isMoveTag);
  if (!move || !task.lastModified) return serviceRequest;
  const found = await deps.store.search('Provenance', { _tag: `${move.system}|${move.code}`, _count: '1' });
  const following = serviceRequestStatusFor(task.status);
  const followed =
    following && serviceRequest.status !== following ? { ...serviceRequest, status: following } : undefined;
  if (found.entry?.length && !followed) return serviceRequest;
  const srRef = `ServiceRequest/${serviceRequest.id}`;
  const provenance = toProvenance({
    targets: [{ reference: `Task/${task.id}` }, ...(followed ? [{ reference: srRef }] : [])],
    recorded: task.lastModified,
    agent: agentOf(ctx),
    requestId: ctx.requestId,
    activity: 'UPDATE',
  });
  const response = await deps.store.bundle({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      ...(followed
        ? [
            {
              resource: followed,
              request: {
                method: 'PUT' as const,
                url: srRef,
                ifMatch: `W/"${serviceRequest.meta?.versionId}"`,
              },
            },
          ]
        : []),
      moveProvenanceEntry(provenance, task, partyLabels(task)),
    ],
  });
  return (
    (followed ? (response.entry?.[0]?.resource as ServiceRequest | undefined) : undefined) ?? serviceRequest
  );
}

function pick<T extends object, K extends keyof T>(source: T, ...keys: K[]): Partial<T> {
  const out: Partial<T> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

function businessStatusIssues(businessStatus: CodeableConcept | undefined): Issue[] {
  if (!businessStatus) return [];
  const ours = (businessStatus.coding ?? []).filter((c) => c.system === REFERRAL_BUSINESS_STATUS.url);
  const unknown = ours.filter((c) => !inCodeSystem(REFERRAL_BUSINESS_STATUS, c));
  if (unknown.length || (ours.length === 0 && !businessStatus.text)) {
    return [
      {
        code: 'code-invalid',
        diagnostics: `businessStatus must be a step of ${REFERRAL_BUSINESS_STATUS.url} (${(REFERRAL_BUSINESS_STATUS.concept ?? []).map((c) => c.code).join(', ')})`,
        expression: ['Task.businessStatus'],
      },
    ];
  }
  return [];
}

/**
 * The national codes a GP system records from the referral's outcome, written once: 871731000000106
 * when the referral is accepted, 871711000000103 when the person declines it.
 */
function withNationalCode(
  stored: Task,
  to: TaskStatus,
  businessStatus: CodeableConcept | undefined,
): Task['output'] {
  const outputs = [...(stored.output ?? [])];
  const has = (code: string) =>
    outputs.some((o) =>
      o.valueCodeableConcept?.coding?.some((c) => c.system === SYSTEM.snomed && c.code === code),
    );
  const declined = businessStatus?.coding?.some(
    (c) => c.system === REFERRAL_BUSINESS_STATUS.url && c.code === 'declined-by-person',
  );
  const code =
    to === 'accepted' && stored.status !== 'accepted'
      ? REFERRAL_TO_SOCIAL_PRESCRIBING
      : to === 'rejected' && declined
        ? SOCIAL_PRESCRIBING_DECLINED
        : undefined;
  if (code && !has(code.code)) {
    outputs.push({
      type: {
        coding: [{ system: OWN_SYSTEM.taskOutput, code: 'national-code' }],
        text: 'National social prescribing code for the GP record',
      },
      valueCodeableConcept: { coding: [{ ...code }] },
    });
  }
  return outputs.length ? outputs : undefined;
}
