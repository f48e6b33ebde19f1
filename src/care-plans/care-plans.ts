import { applyPatch, type Operation } from '@medplum/core';
import type {
  Bundle,
  BundleEntry,
  CarePlan,
  CareTeam,
  Goal,
  Patient,
  Reference,
  Resource,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { agentOf, authorize, type RequestContext } from '../auth/principal.ts';
import { isVisible, withAccess } from '../auth/tenancy.ts';
import { Failures, FhirError, type Issue, invalidBody, requireIfMatch } from '../fhir/outcomes.ts';
import { profileErrors } from '../fhir/profiles.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import { OWN_SYSTEM } from '../fhir/systems.ts';
import { ACTIVITY_CATEGORIES, CARE_TEAM_ROLES, inCodeSystem } from '../fhir/terminology.ts';
import { carePlanJsonToFhir } from '../mapping/care-plan-json-to-fhir.ts';
import { toProvenance } from '../mapping/to-provenance.ts';
import type { FhirStore } from '../medplum/store.ts';
import { organisationOdsOf } from '../referrals/identities.ts';
import type { KeyedLocks } from '../referrals/locks.ts';
import { CarePlanJsonSchema } from '../schemas/care-plan-json.ts';

export interface CarePlanDeps {
  store: FhirStore;
  locks: KeyedLocks;
  clock: () => Date;
  newId: () => string;
}

/** A care plan as sent: the CarePlan, and the Goals and CareTeam sent with it (by `urn:uuid`). */
export interface CarePlanInput {
  carePlan: CarePlan;
  /** FHIRPath of the CarePlan in the request, for issue expressions (`CarePlan` or a Bundle entry). */
  at: string;
  goals: { fullUrl?: string; resource: Goal; at: string }[];
  careTeam?: { fullUrl?: string; resource: CareTeam; at: string };
}

export interface CarePlanResult {
  carePlan: CarePlan;
  goals: Goal[];
  careTeam?: CareTeam;
}

const OPEN_STATUSES = ['draft', 'active', 'on-hold'] as const;
/** Where a care plan's status may go (request-status, as a plan's lifecycle). */
const PLAN_NEXT: Record<string, readonly string[]> = {
  draft: ['active', 'revoked', 'entered-in-error'],
  active: ['on-hold', 'completed', 'revoked', 'entered-in-error'],
  'on-hold': ['active', 'completed', 'revoked', 'entered-in-error'],
};
const TASK_STATUSES_FOR_PLANNING: readonly string[] = ['accepted', 'in-progress', 'on-hold'];

/**
 * Creates the one care plan of a referral: written by the receiving service once it has accepted
 * the referral, for the referral's person, with its Goals and CareTeam, in one transaction with a
 * Provenance. A second open plan for the same referral is refused (409).
 */
export async function createCarePlan(
  deps: CarePlanDeps,
  ctx: RequestContext,
  input: CarePlanInput,
): Promise<CarePlanResult> {
  authorize(ctx.principal, 'CarePlan', 'c');
  const { carePlan, at } = input;
  const issues = checkPlanContent(input);
  if (!['draft', 'active'].includes(carePlan.status)) {
    issues.push({
      code: 'value',
      diagnostics: 'A new care plan is draft or active',
      expression: [`${at}.status`],
    });
  }
  const srRef = singleReferral(carePlan, at, issues);
  if (issues.length && !srRef) throw new FhirError(422, issues);
  const { serviceRequest, task } = await referralFor(
    deps.store,
    ctx,
    srRef as string,
    `${at}.supportingInfo`,
  );
  await requireReceiver(deps.store, ctx, task);
  if (carePlan.subject?.reference !== serviceRequest.subject?.reference) {
    issues.push({
      code: 'invariant',
      diagnostics: `The care plan's subject must be the referral's (${serviceRequest.subject?.reference})`,
      expression: [`${at}.subject`],
    });
  }
  if (!TASK_STATUSES_FOR_PLANNING.includes(task.status)) {
    throw new FhirError(409, [
      {
        code: 'business-rule',
        diagnostics: `The referral is ${task.status}: a care plan is written once the referral has been accepted`,
        expression: [`${at}.supportingInfo`],
      },
    ]);
  }
  issues.push(...profileErrors(carePlan, issues, { at }));
  for (const goal of input.goals) issues.push(...profileErrors(goal.resource, issues, { at: goal.at }));
  if (input.careTeam) {
    issues.push(...profileErrors(input.careTeam.resource, issues, { at: input.careTeam.at }));
  }
  if (issues.length) throw new FhirError(422, issues);

  return deps.locks.withLocks([`CarePlan|${srRef}`], async () => {
    const existing = await openPlanOf(deps.store, serviceRequest, srRef as string);
    if (existing) {
      throw new FhirError(409, [
        {
          code: 'duplicate',
          diagnostics: `The referral already has an open care plan (CarePlan/${existing.id}); update it, or complete or revoke it first`,
          expression: [`${at}.supportingInfo`],
        },
      ]);
    }
    const access = accessOf(serviceRequest);
    const now = deps.clock().toISOString();
    const urn = () => `urn:uuid:${deps.newId()}`;
    const planUrn = urn();
    const goalEntries = input.goals.map((g) => ({ ...g, fullUrl: g.fullUrl ?? urn() }));
    const teamEntry = input.careTeam
      ? { ...input.careTeam, fullUrl: input.careTeam.fullUrl ?? urn() }
      : undefined;
    const subject = serviceRequest.subject as Reference<Patient>;
    const entries: BundleEntry[] = [
      ...goalEntries.map((g) => post(withAccess(forCreate({ ...g.resource, subject }), access), g.fullUrl)),
      ...(teamEntry
        ? [post(withAccess(forCreate({ ...teamEntry.resource, subject }), access), teamEntry.fullUrl)]
        : []),
      post(
        withAccess(
          forCreate({
            ...carePlan,
            created: carePlan.created ?? now,
            goal: carePlan.goal ?? goalEntries.map((g) => ({ reference: g.fullUrl })),
            ...(teamEntry && !carePlan.careTeam ? { careTeam: [{ reference: teamEntry.fullUrl }] } : {}),
          }),
          access,
        ),
        planUrn,
      ),
    ];
    entries.push(
      post(
        withAccess(
          toProvenance({
            targets: entries.map((e) => ({ reference: e.fullUrl as string })),
            recorded: now,
            agent: agentOf(ctx),
            requestId: ctx.requestId,
            activity: 'CREATE',
          }),
          access,
        ),
      ),
    );
    const response = await deps.store.bundle({ resourceType: 'Bundle', type: 'transaction', entry: entries });
    const written = (response.entry ?? []).map((e) => e.resource as Resource);
    if (written.length !== entries.length || written.some((r) => !r?.id)) {
      throw new FhirError(502, [
        { code: 'exception', diagnostics: 'The FHIR store did not store the whole care plan' },
      ]);
    }
    const goals = written.slice(0, goalEntries.length) as Goal[];
    const careTeam = teamEntry ? (written[goalEntries.length] as CareTeam) : undefined;
    const plan = written[entries.length - 2] as CarePlan;
    ctx.touched.push(...written.slice(0, -1).map((r) => `${r.resourceType}/${r.id}`));
    return { carePlan: plan, goals, ...(careTeam ? { careTeam } : {}) };
  });
}

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
  authorize(ctx.principal, 'CarePlan', 'u');
  const version = requireIfMatch(ifMatch);
  const next = body as CarePlan;
  if (next?.resourceType !== 'CarePlan' || next.id !== id) {
    throw new FhirError(400, [
      {
        code: 'structure',
        diagnostics: 'Expected a CarePlan with the id in the URL',
        expression: ['CarePlan.id'],
      },
    ]);
  }
  return applyPlanUpdate(deps, ctx, await readVisiblePlan(deps.store, ctx, id), next, version);
}

async function readVisiblePlan(store: FhirStore, ctx: RequestContext, id: string): Promise<CarePlan> {
  const stored = (await store.read('CarePlan', id).catch((err: unknown) => {
    if ((err as { status?: number }).status === 404) throw Failures.notFound();
    throw err;
  })) as CarePlan;
  if (!isVisible(ctx.principal, stored)) throw Failures.notFound();
  return stored;
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
  const srRef = referralOf(stored) as string;
  const { task } = await referralFor(deps.store, ctx, srRef, 'CarePlan.supportingInfo');
  await requireReceiver(deps.store, ctx, task);
  if (stored.meta?.versionId !== version) {
    throw new FhirError(412, [
      {
        code: 'conflict',
        diagnostics: 'The care plan has changed since that version was read; read it again',
      },
    ]);
  }
  if (next.status !== stored.status && !(PLAN_NEXT[stored.status] ?? []).includes(next.status)) {
    const allowed = PLAN_NEXT[stored.status] ?? [];
    throw new FhirError(409, [
      {
        code: 'business-rule',
        diagnostics: allowed.length
          ? `A care plan cannot go from ${stored.status} to ${next.status}; it can go to ${allowed.join(', ')}`
          : `The care plan has ended (${stored.status}) and cannot change`,
        expression: ['CarePlan.status'],
      },
    ]);
  }
  if (!PLAN_NEXT[stored.status]) {
    throw new FhirError(409, [
      { code: 'business-rule', diagnostics: `The care plan has ended (${stored.status}) and cannot change` },
    ]);
  }
  const issues = checkPlanContent({ carePlan: next, at: 'CarePlan', goals: [] });
  for (const key of ['subject', 'intent'] as const) {
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
  if (issues.length) throw new FhirError(422, issues);

  const now = deps.clock().toISOString();
  const updated: CarePlan = { ...next, meta: { ...stored.meta, security: stored.meta?.security ?? [] } };
  const provenance = toProvenance({
    targets: [{ reference: `CarePlan/${id}` }],
    recorded: now,
    agent: agentOf(ctx),
    requestId: ctx.requestId,
    activity: 'UPDATE',
  });
  const response = await deps.store.bundle({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { resource: updated, request: { method: 'PUT', url: `CarePlan/${id}`, ifMatch: `W/"${version}"` } },
      post({ ...provenance, meta: { security: stored.meta?.security ?? [] } }),
    ],
  });
  const written = response.entry?.[0]?.resource as CarePlan | undefined;
  if (!written?.id) {
    throw new FhirError(412, [
      {
        code: 'conflict',
        diagnostics: 'The care plan changed while this update was being written; read it again',
      },
    ]);
  }
  ctx.touched.push(`CarePlan/${id}`);
  return written;
}

/** `PATCH /fhir/CarePlan/{id}` (JSON Patch) with `If-Match`: the patched plan, then the same update. */
export async function patchCarePlan(
  deps: CarePlanDeps,
  ctx: RequestContext,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<CarePlan> {
  authorize(ctx.principal, 'CarePlan', 'u');
  const version = requireIfMatch(ifMatch);
  if (!Array.isArray(body))
    throw new FhirError(400, [{ code: 'structure', diagnostics: 'Expected a JSON Patch array' }]);
  const stored = await readVisiblePlan(deps.store, ctx, id);
  const patched = structuredClone(toPublicResource(stored));
  if (applyPatch(patched, body as Operation[]).some(Boolean)) {
    throw new FhirError(422, [
      { code: 'processing', diagnostics: 'The patch does not apply to this care plan' },
    ]);
  }
  return applyPlanUpdate(deps, ctx, stored, patched, version);
}

function post(resource: Resource, fullUrl?: string): BundleEntry {
  return {
    ...(fullUrl ? { fullUrl } : {}),
    resource,
    request: { method: 'POST', url: resource.resourceType },
  };
}

/** Drops the sender's id and server-owned meta (and any access labels: they are the service's). */
function forCreate<T extends Resource>(resource: T): T {
  const { id: _id, meta, ...rest } = resource;
  return { ...rest, ...(meta?.profile ? { meta: { profile: meta.profile } } : {}) } as T;
}

function accessOf(resource: Resource): string[] {
  return (resource.meta?.security ?? [])
    .filter((c) => c.system === OWN_SYSTEM.organisationAccess && c.code)
    .map((c) => c.code as string);
}

/**
 * The referral a care plan belongs to: the one ServiceRequest among its `supportingInfo`. R4's
 * `CarePlan.basedOn` may only point at another CarePlan, and Medplum checks reference targets,
 * so the referral is carried where any resource may be named.
 */
export function referralOf(carePlan: CarePlan): string | undefined {
  const referrals = (carePlan.supportingInfo ?? [])
    .map((r) => r.reference ?? '')
    .filter((r) => /^ServiceRequest\/[^/]+$/.test(r));
  return referrals.length === 1 ? referrals[0] : undefined;
}

/** The referral's care plan that is still open (draft, active or on hold), if any. */
async function openPlanOf(
  store: FhirStore,
  serviceRequest: ServiceRequest,
  srRef: string,
): Promise<CarePlan | undefined> {
  const plans = await store.search('CarePlan', {
    patient: serviceRequest.subject?.reference ?? '',
    status: OPEN_STATUSES.join(','),
    _count: '100',
  });
  return (plans.entry ?? []).map((e) => e.resource as CarePlan).find((plan) => referralOf(plan) === srRef);
}

function singleReferral(carePlan: CarePlan, at: string, issues: Issue[]): string | undefined {
  const referral = referralOf(carePlan);
  if (!referral) {
    issues.push({
      code: 'required',
      diagnostics:
        'A care plan names exactly one referral among its supportingInfo (a reference to ServiceRequest/{id})',
      expression: [`${at}.supportingInfo`],
    });
  }
  return referral;
}

export async function referralFor(
  store: FhirStore,
  ctx: RequestContext,
  srRef: string,
  expression: string,
): Promise<{ serviceRequest: ServiceRequest; task: Task }> {
  const id = srRef.split('/')[1] as string;
  const serviceRequest = (await store.read('ServiceRequest', id).catch(() => undefined)) as
    | ServiceRequest
    | undefined;
  if (!serviceRequest || !isVisible(ctx.principal, serviceRequest)) {
    throw new FhirError(422, [
      {
        code: 'not-found',
        diagnostics: 'basedOn does not name a referral stored here',
        expression: [expression],
      },
    ]);
  }
  const tasks = await store.search('Task', { focus: srRef, _sort: '-_lastUpdated', _count: '1' });
  const task = tasks.entry?.[0]?.resource as Task | undefined;
  if (!task) {
    throw new FhirError(422, [
      { code: 'not-found', diagnostics: 'The referral has no Task', expression: [expression] },
    ]);
  }
  return { serviceRequest, task };
}

/** Care plans (and their outcomes) are written by the service the referral was sent to. */
export async function requireReceiver(
  store: FhirStore,
  ctx: RequestContext,
  task: Task,
  diagnostics = 'Only the service the referral was sent to writes its care plan',
): Promise<void> {
  const organization = ctx.principal.organization;
  if (organization === undefined) return;
  if ((await organisationOdsOf(store, task.owner)) !== organization) {
    throw new FhirError(403, [{ code: 'forbidden', diagnostics }]);
  }
}

/** Intent, activities (a category from the activity code system, a status), goals and team roles. */
function checkPlanContent(input: CarePlanInput): Issue[] {
  const { carePlan, at } = input;
  const issues: Issue[] = [];
  if (carePlan.intent !== 'plan') {
    issues.push({ code: 'value', diagnostics: 'A care plan has intent plan', expression: [`${at}.intent`] });
  }
  for (const [i, activity] of (carePlan.activity ?? []).entries()) {
    const path = `${at}.activity[${i}]`;
    if (!activity.detail) {
      issues.push({
        code: 'required',
        diagnostics: 'Each activity is described in detail (a reference to another request is not supported)',
        expression: [`${path}.detail`],
      });
      continue;
    }
    if (!activity.detail.code?.coding?.some((c) => inCodeSystem(ACTIVITY_CATEGORIES, c))) {
      issues.push({
        code: 'code-invalid',
        diagnostics: `An activity needs a category from ${ACTIVITY_CATEGORIES.url} (${(ACTIVITY_CATEGORIES.concept ?? []).map((c) => c.code).join(', ')})`,
        expression: [`${path}.detail.code`],
      });
    }
    if (!activity.detail.status) {
      issues.push({
        code: 'required',
        diagnostics: 'Each activity has a status',
        expression: [`${path}.detail.status`],
      });
    }
  }
  for (const goal of input.goals) {
    if (goal.resource.resourceType !== 'Goal') continue;
    if (!goal.resource.description?.text) {
      issues.push({
        code: 'required',
        diagnostics: 'A goal says what it is',
        expression: [`${goal.at}.description`],
      });
    }
    if (!goal.resource.lifecycleStatus) {
      issues.push({
        code: 'required',
        diagnostics: 'A goal has a lifecycleStatus',
        expression: [`${goal.at}.lifecycleStatus`],
      });
    }
  }
  for (const [i, participant] of (input.careTeam?.resource.participant ?? []).entries()) {
    const roles = participant.role?.flatMap((r) => r.coding ?? []) ?? [];
    if (!roles.some((c) => inCodeSystem(CARE_TEAM_ROLES, c))) {
      issues.push({
        code: 'code-invalid',
        diagnostics: `A care team member needs a role from ${CARE_TEAM_ROLES.url}`,
        expression: [`${input.careTeam?.at}.participant[${i}].role`],
      });
    }
  }
  return issues;
}

/** The care plan and what was written with it, as the caller sees them. */
export function publicResult(result: CarePlanResult): CarePlanResult {
  return {
    carePlan: toPublicResource(result.carePlan),
    goals: result.goals.map(toPublicResource),
    ...(result.careTeam ? { careTeam: toPublicResource(result.careTeam) } : {}),
  };
}

/** Reads a care plan Bundle (CarePlan with its Goals and CareTeam, as a transaction) into an input. */
export function carePlanInputFromBundle(bundle: Bundle): CarePlanInput {
  const entries = bundle.entry ?? [];
  const planIndex = entries.findIndex((e) => e.resource?.resourceType === 'CarePlan');
  const issues: Issue[] = [];
  const goals: CarePlanInput['goals'] = [];
  let careTeam: CarePlanInput['careTeam'];
  for (const [i, entry] of entries.entries()) {
    const at = `Bundle.entry[${i}].resource`;
    const type = entry.resource?.resourceType;
    if (entry.request?.method !== 'POST') {
      issues.push({
        code: 'structure',
        diagnostics: 'Entries are created (POST)',
        expression: [`Bundle.entry[${i}].request`],
      });
    }
    if (i === planIndex) continue;
    if (type === 'Goal')
      goals.push({
        ...(entry.fullUrl ? { fullUrl: entry.fullUrl } : {}),
        resource: entry.resource as Goal,
        at,
      });
    else if (type === 'CareTeam' && !careTeam) {
      careTeam = {
        ...(entry.fullUrl ? { fullUrl: entry.fullUrl } : {}),
        resource: entry.resource as CareTeam,
        at,
      };
    } else {
      issues.push({
        code: 'structure',
        diagnostics: 'A care plan Bundle holds one CarePlan, its Goals and at most one CareTeam',
        expression: [at],
      });
    }
  }
  if (planIndex < 0)
    issues.push({
      code: 'required',
      diagnostics: 'The Bundle holds no CarePlan',
      expression: ['Bundle.entry'],
    });
  if (issues.length) throw new FhirError(400, issues);
  return {
    carePlan: entries[planIndex]?.resource as CarePlan,
    at: `Bundle.entry[${planIndex}].resource`,
    goals,
    ...(careTeam ? { careTeam } : {}),
  };
}

/** JSON paths of the plain care plan, for the FHIR paths the checks name. */
const JSON_ALIASES: [RegExp, string][] = [
  [/^CarePlan\.activity\[(\d+)\]\.detail\.code$/, 'activities[$1].category'],
  [/^CarePlan\.activity\[(\d+)\]\.detail\.status$/, 'activities[$1].status'],
  [/^careTeam\.participant\[(\d+)\]\.role$/, 'careTeam[$1].role'],
  [/^CarePlan\.supportingInfo.*$/, '(referral)'],
];

/** `POST /referrals/{id}/care-plan`: the plain JSON care plan, checked, mapped, then the same creation. */
export async function createCarePlanFromJson(
  deps: CarePlanDeps,
  ctx: RequestContext,
  serviceRequestId: string,
  body: unknown,
): Promise<CarePlanResult> {
  authorize(ctx.principal, 'CarePlan', 'c');
  const parsed = CarePlanJsonSchema.safeParse(body);
  if (!parsed.success) throw invalidBody(parsed.error);
  const serviceRequest = (await deps.store.read('ServiceRequest', serviceRequestId).catch(() => undefined)) as
    | ServiceRequest
    | undefined;
  if (!serviceRequest || !isVisible(ctx.principal, serviceRequest)) throw Failures.notFound();
  const mapped = carePlanJsonToFhir(
    parsed.data,
    { serviceRequest: `ServiceRequest/${serviceRequestId}`, subject: serviceRequest.subject as Reference },
    deps.newId,
  );
  try {
    return await createCarePlan(deps, ctx, {
      carePlan: mapped.carePlan,
      at: 'CarePlan',
      goals: mapped.goals.map((g, i) => ({ ...g, at: `goals[${i}]` })),
      ...(mapped.careTeam ? { careTeam: { ...mapped.careTeam, at: 'careTeam' } } : {}),
    });
  } catch (err) {
    if (!(err instanceof FhirError)) throw err;
    const issues = (err.outcome.issue ?? []).map((issue) => ({
      severity: issue.severity,
      code: issue.code,
      diagnostics: issue.diagnostics ?? '',
      ...(issue.expression
        ? {
            expression: issue.expression.map((e) => {
              for (const [pattern, alias] of JSON_ALIASES)
                if (pattern.test(e)) return e.replace(pattern, alias);
              return e;
            }),
          }
        : {}),
    }));
    throw new FhirError(err.status, issues, { ...err.headers });
  }
}
