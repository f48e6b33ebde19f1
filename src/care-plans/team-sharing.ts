import type { Bundle, BundleEntry, CarePlan, CareTeam, Consent, Resource } from '@medplum/fhirtypes';
import { agentOf, authorize, type RequestContext } from '../auth/principal.ts';
import { isVisible, partyLabels, seenOnlyAsTeamMember, teamSharesOf } from '../auth/tenancy.ts';
import { Failures, FhirError } from '../fhir/outcomes.ts';
import { requireShape } from '../fhir/shape.ts';
import { toProvenance } from '../mapping/to-provenance.ts';
import { StoreError } from '../medplum/errors.ts';
import type { FhirStore } from '../medplum/store.ts';
import { requireReceiver } from '../workflow/referral-record.ts';
import { beginUpdate, replacementOf } from '../workflow/versioned-update.ts';
import { postEntry } from '../workflow/writes.ts';
import { referralOf } from './care-plan-rules.ts';
import type { CarePlanDeps } from './create-care-plan.ts';
import { referralNamed } from './plan-referral.ts';
import { alignPerson, CHANGING, partsOf, sharingWrites } from './team-labels.ts';
import {
  consentInForce,
  consentShares,
  newConsentIssues,
  teamOfConsent,
  WITHDRAWN_STATUSES,
} from './team-sharing-rules.ts';

/**
 * Sharing a care plan with the person's care team, on their consent (team-sharing-rules.ts). What
 * is shared is kept on the parts themselves, as care-team access labels naming the consent: the
 * plan, its Goals and CareTeam, the outcome measures recorded against it, the referral's Task (its
 * status) and the person as the plan's keeper has them, and the consent in force. Every change to
 * the consent or the team rewrites those labels in the same transaction as the change (a grant
 * after its Consent is stored, as the labels name it), so a withdrawal or a removal takes effect
 * in the write that records it. Only the service keeping the plan records either.
 */

export const NOT_THE_KEEPER = 'Only the service keeping the care plan records the consent and the team';

/** What a change of sharing wrote, as the caller sees it. */
export interface SharingResult<T extends Resource> {
  resource: T;
  created: boolean;
  /** The organisations the plan is shared with once the change is made. */
  sharedWith: string[];
}

/** Whether an update would change nothing (meta aside). */
function sameContent(stored: Resource, next: Resource): boolean {
  const { meta: _a, ...was } = stored;
  const { meta: _b, ...now } = next;
  return JSON.stringify(was) === JSON.stringify(now);
}

/** The organisations a plan is shared with, as its labels say. */
const sharedWith = (plan: CarePlan): string[] => teamSharesOf(plan).map((s) => s.organization);

/** The plan a CareTeam belongs to, as the caller may see it, and the caller proven its keeper. */
async function planOfTeam(
  store: FhirStore,
  ctx: RequestContext,
  teamRef: string,
  expression: string,
): Promise<CarePlan> {
  const found = await store.search('CarePlan', { 'care-team': teamRef, _count: '2' });
  const plans = (found.entry ?? []).map((e) => e.resource as CarePlan);
  // A team belongs to the one plan written with it (src/care-plans/create-care-plan.ts).
  const plan = plans.length === 1 && plans[0] && isVisible(ctx.principal, plans[0]) ? plans[0] : undefined;
  if (plan && seenOnlyAsTeamMember(ctx.principal, plan)) {
    throw new FhirError('forbidden', [{ code: 'forbidden', diagnostics: NOT_THE_KEEPER }]);
  }
  if (!plan) {
    throw new FhirError('invalid', [
      {
        code: 'not-found',
        diagnostics: 'The care team is not the team of a care plan stored here',
        expression: [expression],
      },
    ]);
  }
  // The plan's referral not visible to the caller: a team member, never its keeper. A store
  // failure on the way is passed on as it is, never taken for that.
  const { task } = await referralNamed(store, ctx, referralOf(plan) ?? '', expression).catch(
    (err: unknown) => {
      if (err instanceof FhirError && err.kind === 'invalid') {
        throw new FhirError('forbidden', [{ code: 'forbidden', diagnostics: NOT_THE_KEEPER }]);
      }
      throw err;
    },
  );
  await requireReceiver(store, ctx, task, NOT_THE_KEEPER);
  return plan;
}

/** Writes the change and the labels in one transaction, with a Provenance of what changed. */
async function commit(
  deps: CarePlanDeps,
  ctx: RequestContext,
  plan: CarePlan,
  writes: { entries: BundleEntry[]; changed: string[] },
): Promise<Bundle> {
  const provenance = toProvenance({
    targets: writes.changed.map((reference) => ({ reference })),
    recorded: deps.clock().toISOString(),
    agent: agentOf(ctx),
    requestId: ctx.requestId,
    activity: 'UPDATE',
  });
  const response = await deps.store.bundle({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [...writes.entries, postEntry({ ...provenance, meta: { security: partyLabels(plan) } })],
  });
  await alignPerson(deps.store, plan);
  return response;
}

/** Runs a change again from its reads when another write overtook it (412), up to three times. */
async function overtakenAgain<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof StoreError) || err.refusal !== 'precondition-failed' || attempt >= 3) throw err;
    }
  }
}

const written = <T extends Resource>(response: Bundle, at: number): T => {
  const resource = response.entry?.[at]?.resource as T | undefined;
  if (!resource?.id)
    throw new FhirError('incomplete-write', [
      { code: 'exception', diagnostics: 'The FHIR store did not store the whole change' },
    ]);
  return resource;
};

/**
 * `POST /fhir/Consent`: the person's consent to share their care plan with its care team (or a
 * refusal), recorded by the plan's keeper. A refusal is written with every label it ends, in one
 * write; a grant first on its own (the labels name it), then the labels. The same consent sent
 * again (the one in force, with the same status, provision and time) is answered with the one
 * stored, and sharing brought in line, so a grant whose labels were not written is completed.
 */
export async function recordTeamConsent(
  deps: CarePlanDeps,
  ctx: RequestContext,
  body: unknown,
): Promise<SharingResult<Consent>> {
  authorize(ctx.principal, 'Consent', 'c');
  const given = replacementOf<Consent>('Consent', 'new', { ...(body as object), id: 'new' });
  requireShape(given, 'Consent');
  const { id: _id, meta: _meta, ...content } = given;
  const teamRef = teamOfConsent(given);
  if (!teamRef) throw new FhirError('invalid', newConsentIssues(given, undefined, deps.clock()));
  const plan = await planOfTeam(deps.store, ctx, teamRef, 'Consent.provision.actor');
  const issues = newConsentIssues(given, plan.subject?.reference, deps.clock());
  if (issues.length) throw new FhirError('invalid', issues);
  const fresh = { ...content, meta: { security: partyLabels(plan) } } as Consent;
  return overtakenAgain(async () => {
    const parts = await partsOf(deps.store, plan);
    const inForce = consentInForce(parts.consents);
    const same =
      inForce !== undefined &&
      inForce.status === fresh.status &&
      inForce.provision?.type === fresh.provision?.type &&
      inForce.dateTime === fresh.dateTime;
    let consent: Consent;
    if (same) consent = inForce;
    else {
      const writes = await sharingWrites(deps.store, parts, fresh, deps.clock());
      if (consentShares(fresh) && writes.issues.length) throw new FhirError('invalid', writes.issues);
      const grant = consentShares(consentInForce([...parts.consents, fresh]));
      const change = grant ? { entries: [postEntry(fresh, CHANGING)], changed: [CHANGING] } : writes;
      const response = await commit(deps, ctx, plan, change);
      consent = written<Consent>(
        response,
        change.entries.findIndex((e) => e.fullUrl === CHANGING),
      );
      ctx.touched.push(`Consent/${consent.id}`);
      if (!grant)
        return { resource: consent, created: true, sharedWith: writes.shares.map((s) => s.organization) };
    }
    // Sharing brought in line with the consent in force: the new grant, or the same one again.
    const after = same ? parts : await partsOf(deps.store, plan);
    const stored = after.consents.find((c) => c.id === consent.id) ?? consent;
    const writes = await sharingWrites(deps.store, after, stored, deps.clock(), false);
    if (writes.issues.length) throw new FhirError('invalid', writes.issues);
    if (writes.entries.length) {
      const response = await commit(deps, ctx, plan, writes);
      const at = writes.entries.findIndex(
        (e) => e.resource?.resourceType === 'Consent' && e.resource.id === consent.id,
      );
      if (at >= 0) consent = written<Consent>(response, at);
    }
    ctx.touched.push(`Consent/${consent.id}`);
    return { resource: consent, created: !same, sharedWith: writes.shares.map((s) => s.organization) };
  });
}

/**
 * `PUT /fhir/Consent/{id}` with `If-Match`: a care-team consent withdrawn (`inactive` or
 * `rejected`); nothing else of it changes. Every team member's access ends in the same write.
 */
export async function updateTeamConsent(
  deps: CarePlanDeps,
  ctx: RequestContext,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<SharingResult<Consent>> {
  const next = replacementOf<Consent>('Consent', id, body);
  requireShape(next, 'Consent');
  const { stored } = await beginUpdate<Consent>(deps.store, ctx, 'Consent', id, ifMatch);
  const teamRef = teamOfConsent(stored);
  // Sent back as read: nothing to change, whatever consent it is.
  if (!teamRef && sameContent(stored, next)) return { resource: stored, created: false, sharedWith: [] };
  if (!teamRef) {
    throw new FhirError('conflict', [
      {
        code: 'business-rule',
        diagnostics: 'Only a care-team consent is changed here; a referral’s consent is part of the referral',
      },
    ]);
  }
  const plan = await planOfTeam(deps.store, ctx, teamRef, 'Consent.provision.actor');
  if (sameContent(stored, next)) return { resource: stored, created: false, sharedWith: sharedWith(plan) };
  const { meta: _m, status: _s, ...was } = stored;
  const { meta: _n, status: _t, ...now } = next;
  if (JSON.stringify(was) !== JSON.stringify({ ...now, id })) {
    throw new FhirError('invalid', [
      {
        code: 'business-rule',
        diagnostics: 'A recorded consent changes only by being withdrawn (status inactive or rejected)',
        expression: ['Consent'],
      },
    ]);
  }
  if (
    next.status !== stored.status &&
    !(stored.status === 'active' && WITHDRAWN_STATUSES.includes(next.status))
  ) {
    throw new FhirError('conflict', [
      {
        code: 'business-rule',
        diagnostics: `A consent that is ${stored.status} is not made ${next.status}; record a new one instead`,
        expression: ['Consent.status'],
      },
    ]);
  }
  const result = await changeAtVersion(deps, ctx, plan, { ...stored, status: next.status }, 'consent');
  return { ...result, resource: result.resource as Consent };
}

/**
 * Writes a change of the consent or the team with the labels it brings, made again from fresh
 * reads when another write to one of the parts overtook it (a Task move, a measure); the change
 * itself stays at the version the caller read, so if that changed the caller is told (412).
 */
async function changeAtVersion(
  deps: CarePlanDeps,
  ctx: RequestContext,
  plan: CarePlan,
  changing: Consent | CareTeam,
  what: string,
): Promise<SharingResult<Consent | CareTeam>> {
  return overtakenAgain(async () => {
    const parts = await partsOf(deps.store, plan);
    const current = [...parts.consents, ...parts.teams].find(
      (r) => r.resourceType === changing.resourceType && r.id === changing.id,
    );
    if (current?.meta?.versionId !== changing.meta?.versionId) throw Failures.stale(what);
    const writes = await sharingWrites(deps.store, parts, changing, deps.clock());
    if (writes.issues.length) throw new FhirError('invalid', writes.issues);
    const response = await commit(deps, ctx, plan, writes);
    const index = writes.entries.findIndex(
      (e) => e.resource?.resourceType === changing.resourceType && e.resource.id === changing.id,
    );
    ctx.touched.push(`${changing.resourceType}/${changing.id}`);
    return {
      resource: written<Consent | CareTeam>(response, index),
      created: false,
      sharedWith: writes.shares.map((s) => s.organization),
    };
  });
}

/**
 * `PUT /fhir/CareTeam/{id}` with `If-Match`: the plan's team changed by its keeper (its subject
 * stays). An organisation added shares from this write on, under the consent in force; one
 * removed stops seeing the plan in the same write.
 */
export async function updateCareTeam(
  deps: CarePlanDeps,
  ctx: RequestContext,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<SharingResult<CareTeam>> {
  const next = replacementOf<CareTeam>('CareTeam', id, body);
  requireShape(next, 'CareTeam');
  const { stored } = await beginUpdate<CareTeam>(deps.store, ctx, 'CareTeam', id, ifMatch);
  const plan = await planOfTeam(deps.store, ctx, `CareTeam/${id}`, 'CareTeam');
  if (sameContent(stored, next)) return { resource: stored, created: false, sharedWith: sharedWith(plan) };
  if (next.subject?.reference !== stored.subject?.reference) {
    throw new FhirError('invalid', [
      {
        code: 'business-rule',
        diagnostics: "A care team's subject does not change",
        expression: ['CareTeam.subject'],
      },
    ]);
  }
  const result = await changeAtVersion(deps, ctx, plan, { ...next, id, meta: stored.meta }, 'care team');
  return { ...result, resource: result.resource as CareTeam };
}
