import { applyPatch, type Operation } from '@medplum/core';
import type { Bundle, CodeableConcept, ServiceRequest, Task } from '@medplum/fhirtypes';
import { agentOf, authorize, type RequestContext } from '../auth/principal.ts';
import { isVisible } from '../auth/tenancy.ts';
import { Failures, FhirError, type Issue, requireIfMatch } from '../fhir/outcomes.ts';
import { profileErrors } from '../fhir/profiles.ts';
import { toPublicResource } from '../fhir/public-view.ts';
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
import { organisationOdsOf } from './identities.ts';

export interface TaskDeps {
  store: FhirStore;
  clock: () => Date;
}

/** What a client may change on a referral Task; everything else is the referral's and stays. */
const MUTABLE = [
  'status',
  'businessStatus',
  'statusReason',
  'note',
  'executionPeriod',
  'lastModified',
] as const;
/** Server-kept parts a client's copy may carry or omit without it counting as a change. */
const SERVER_KEPT = ['meta', 'text', 'output'] as const;

export interface TaskResult {
  task: Task;
  serviceRequest: ServiceRequest;
}

/** `PUT /fhir/Task/{id}` with `If-Match`: the whole Task, of which only the progress may change. */
export async function updateTask(
  deps: TaskDeps,
  ctx: RequestContext,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<TaskResult> {
  authorize(ctx.principal, 'Task', 'u');
  const version = requireIfMatch(ifMatch);
  const task = body as Task;
  if (task?.resourceType !== 'Task') {
    throw new FhirError(400, [
      { code: 'structure', diagnostics: 'Expected a Task', expression: ['resourceType'] },
    ]);
  }
  if (task.id !== id) {
    throw new FhirError(400, [
      { code: 'invariant', diagnostics: 'The Task’s id must be the id in the URL', expression: ['Task.id'] },
    ]);
  }
  const stored = await readVisibleTask(deps.store, ctx, id);
  checkVersion(stored, version);
  checkOnlyProgressChanged(stored, task);
  return transition(deps, ctx, stored, task);
}

/** `PATCH /fhir/Task/{id}` (JSON Patch) with `If-Match`. */
export async function patchTask(
  deps: TaskDeps,
  ctx: RequestContext,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<TaskResult> {
  authorize(ctx.principal, 'Task', 'u');
  const version = requireIfMatch(ifMatch);
  if (!Array.isArray(body)) {
    throw new FhirError(400, [{ code: 'structure', diagnostics: 'Expected a JSON Patch array' }]);
  }
  const stored = await readVisibleTask(deps.store, ctx, id);
  checkVersion(stored, version);
  const patched = structuredClone(toPublicResource(stored));
  const errors = applyPatch(patched, body as Operation[]).filter(Boolean);
  if (errors.length) {
    throw new FhirError(422, [{ code: 'processing', diagnostics: 'The patch does not apply to this Task' }]);
  }
  checkOnlyProgressChanged(stored, patched);
  return transition(deps, ctx, stored, patched);
}

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
  const found = await deps.store.search('Task', {
    focus: `ServiceRequest/${serviceRequestId}`,
    _sort: '-_lastUpdated',
    _count: '1',
  });
  const stored = found.entry?.[0]?.resource as Task | undefined;
  if (!stored || !isVisible(ctx.principal, stored)) throw Failures.notFound();
  const businessStatus =
    action === 'decline' && !input.businessStatus ? 'declined-by-person' : input.businessStatus;
  const next: Task = {
    ...stored,
    status: ACTIONS[action] ?? stored.status,
    ...(businessStatus
      ? { businessStatus: { coding: [{ system: REFERRAL_BUSINESS_STATUS.url, code: businessStatus }] } }
      : {}),
    ...(input.reason ? { statusReason: { text: input.reason } } : {}),
    ...(input.note
      ? { note: [...(stored.note ?? []), { text: input.note, time: deps.clock().toISOString() }] }
      : {}),
  };
  return transition(deps, ctx, stored, next);
}

function checkVersion(stored: Task, version: string): void {
  if (stored.meta?.versionId !== version) {
    throw new FhirError(412, [
      { code: 'conflict', diagnostics: 'The Task has changed since that version was read; read it again' },
    ]);
  }
}

async function readVisibleTask(store: FhirStore, ctx: RequestContext, id: string): Promise<Task> {
  const stored = (await store.read('Task', id).catch((err: unknown) => {
    if ((err as { status?: number }).status === 404) throw Failures.notFound();
    throw err;
  })) as Task;
  if (!isVisible(ctx.principal, stored)) throw Failures.notFound();
  return stored;
}

function checkOnlyProgressChanged(stored: Task, next: Task): void {
  const fixed = (task: Task) => {
    const copy: Record<string, unknown> = { ...task };
    for (const key of [...MUTABLE, ...SERVER_KEPT]) delete copy[key];
    return copy;
  };
  const before = fixed(stored);
  const after = fixed(next);
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .sort();
  if (changed.length) {
    throw new FhirError(422, [
      {
        code: 'business-rule',
        diagnostics: `Only the referral's progress (${MUTABLE.join(', ')}) can change on its Task`,
        expression: changed.map((key) => `Task.${key}`),
      },
    ]);
  }
}

/**
 * Checks the move against the state machine and the caller's part in the referral (the receiving
 * service moves it on; the referrer may only withdraw it), then writes the Task, the
 * ServiceRequest's following status and a Provenance in one transaction.
 */
async function transition(
  deps: TaskDeps,
  ctx: RequestContext,
  stored: Task,
  next: Task,
): Promise<TaskResult> {
  const from = stored.status;
  const to = next.status;
  const issues: Issue[] = [];
  const role = await roleOf(deps.store, ctx, stored);
  if (role === 'none') {
    throw new FhirError(403, [
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
      throw new FhirError(409, [
        {
          code: 'business-rule',
          diagnostics: allowed.length
            ? `A referral cannot go from ${from} to ${to}; from ${from} it can go to ${allowed.join(', ')}`
            : `A referral cannot go from ${from} to ${to}; it has ended`,
          expression: ['Task.status'],
        },
      ]);
    }
    if (role === 'requester' && !REQUESTER_MAY_SET.has(to)) {
      throw new FhirError(403, [
        {
          code: 'forbidden',
          diagnostics: `Only the receiving service can mark the referral ${to}; the referrer may cancel it`,
          expression: ['Task.status'],
        },
      ]);
    }
  } else if (progressChanged && TERMINAL.has(from)) {
    throw new FhirError(409, [
      { code: 'business-rule', diagnostics: `The referral has ended (${from}); its progress cannot change` },
    ]);
  }
  if (role === 'requester' && progressChanged && !REQUESTER_MAY_SET.has(to)) {
    throw new FhirError(403, [
      { code: 'forbidden', diagnostics: 'Only the receiving service records the referral’s progress' },
    ]);
  }
  if (NEEDS_REASON.has(to) && to !== from && !next.statusReason?.text && !next.statusReason?.coding?.length) {
    issues.push({
      code: 'required',
      diagnostics: `A referral marked ${to} needs a statusReason saying why`,
      expression: ['Task.statusReason'],
    });
  }
  issues.push(...businessStatusIssues(next.businessStatus));
  if (issues.length) throw new FhirError(422, issues);

  const now = deps.clock().toISOString();
  const task: Task = {
    ...stored,
    status: to,
    ...pick(next, 'businessStatus', 'statusReason', 'note', 'executionPeriod'),
    lastModified: now,
    output: withNationalCode(stored, to, next.businessStatus),
  };
  if (!next.businessStatus) delete task.businessStatus;
  if (!next.statusReason) delete task.statusReason;

  const taskIssues = profileErrors(task, []);
  if (taskIssues.length) throw new FhirError(422, taskIssues);

  const srRef = stored.focus?.reference ?? '';
  const [srType, srId] = srRef.split('/');
  if (srType !== 'ServiceRequest' || !srId) {
    throw new FhirError(422, [{ code: 'invalid', diagnostics: 'The Task does not focus a ServiceRequest' }]);
  }
  const serviceRequest = (await deps.store.read('ServiceRequest', srId)) as ServiceRequest;
  const srStatus = to !== from ? serviceRequestStatusFor(to) : undefined;
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
      {
        resource: { ...provenance, meta: { security: stored.meta?.security ?? [] } },
        request: { method: 'POST', url: 'Provenance' },
      },
    ],
  };
  const response = await deps.store.bundle(transaction);
  const failed = (response.entry ?? []).find((e) => !e.response?.status?.startsWith('2'));
  if (failed) {
    throw new FhirError(failed.response?.status?.startsWith('412') ? 412 : 502, [
      {
        code: 'conflict',
        diagnostics: 'The referral changed while this update was being written; read it again',
      },
    ]);
  }
  const written = response.entry?.[0]?.resource as Task;
  const writtenRequest = (followed ? response.entry?.[1]?.resource : serviceRequest) as ServiceRequest;
  ctx.touched.push(`Task/${stored.id}`, srRef);
  return { task: written, serviceRequest: writtenRequest };
}

function pick<T extends object, K extends keyof T>(source: T, ...keys: K[]): Partial<T> {
  const out: Partial<T> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

async function roleOf(
  store: FhirStore,
  ctx: RequestContext,
  task: Task,
): Promise<'receiver' | 'requester' | 'none'> {
  const organization = ctx.principal.organization;
  if (organization === undefined) return 'receiver';
  if ((await organisationOdsOf(store, task.owner)) === organization) return 'receiver';
  if ((await organisationOdsOf(store, task.requester)) === organization) return 'requester';
  return 'none';
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
