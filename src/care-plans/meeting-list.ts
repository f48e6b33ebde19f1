import type {
  Bundle,
  BundleEntry,
  CarePlan,
  Goal,
  Patient,
  QuestionnaireResponse,
  Resource,
  Task,
} from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { isVisible, noteDisclosures, scopedQuery, teamSharesOf, visibleEntries } from '../auth/tenancy.ts';
import { FhirError } from '../fhir/outcomes.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import { CANONICAL_BASE, OWN_SYSTEM, SYSTEM } from '../fhir/systems.ts';
import { type FhirStore, searchAll } from '../medplum/store.ts';
import { referralOf } from './care-plan-rules.ts';

/**
 * The list a neighbourhood team meets over: for the caller's organisation, the people with an
 * active care plan shared with a care team under the person's consent, where the caller is in
 * that team (the plan is shared with it), or is party to the plan (keeps it, or referred). For
 * each, what changed since a given time: the referral's status (and a referral new since then),
 * the plan, its goals, and the outcome measures recorded. Made from what the caller may see, in
 * one round trip to the store; a consent withdrawn takes the person off the list at once.
 */

/** At most this many people on one list: a team meets about tens, not thousands. */
export const MAX_LISTED = 500;

export interface MeetingChange {
  at: string;
  what: 'new-referral' | 'referral-status' | 'care-plan' | 'goal' | 'outcome';
  reference: string;
}

export interface MeetingEntry {
  patient: Patient;
  carePlan: CarePlan;
  task?: Task;
  goals: Goal[];
  outcomes: QuestionnaireResponse[];
  changes: MeetingChange[];
}

const after = (resource: Resource, since: number) => Date.parse(resource.meta?.lastUpdated ?? '') > since;

/** A FHIR instant: a date and time to the second at least, with a time zone. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The meeting list: everything it shows, as the caller may see it. */
export async function meetingList(
  store: FhirStore,
  ctx: RequestContext,
  since: string,
): Promise<MeetingEntry[]> {
  for (const type of ['CarePlan', 'Patient', 'Task', 'Goal', 'QuestionnaireResponse'] as const)
    authorize(ctx.principal, type, 's');
  const sinceMs = Date.parse(since);
  if (!Number.isFinite(sinceMs) || !INSTANT.test(since)) {
    throw new FhirError('malformed', [
      {
        code: 'value',
        diagnostics: 'since is an instant with a time zone (2026-12-01T09:00:00Z)',
        expression: ['since'],
      },
    ]);
  }
  const query = (type: string, q: Record<string, string>) => ({
    type: type as 'CarePlan',
    query: Object.fromEntries(scopedQuery(ctx.principal, type, new URLSearchParams(q))),
  });
  const changed = { _lastUpdated: `gt${new Date(sinceMs).toISOString()}`, _count: '1000' };
  const visible = (bundle: Bundle | undefined) =>
    (visibleEntries(ctx.principal, bundle ?? { resourceType: 'Bundle', type: 'searchset' }).entry ??
      []) as BundleEntry[];
  const [plans, goals, outcomes] = await searchAll(store, [
    // Only plans shared with a care team (any organisation's label of that kind), among those the
    // caller sees: as one of the team, or as a party.
    query('CarePlan', {
      status: 'active',
      _security: `${OWN_SYSTEM.careTeamAccess}|`,
      _include: 'CarePlan:subject',
      _count: String(MAX_LISTED + 1),
    }),
    query('Goal', changed),
    query('QuestionnaireResponse', changed),
  ]);
  if (visible(plans).filter((e) => e.resource?.resourceType === 'CarePlan').length > MAX_LISTED) {
    throw new FhirError('too-large', [
      {
        code: 'too-costly',
        diagnostics: `More than ${MAX_LISTED} people are on this organisation's care-team lists; a meeting list holds at most ${MAX_LISTED}`,
      },
    ]);
  }
  const patients = new Map<string, Patient>();
  const listed: CarePlan[] = [];
  for (const { resource, search } of visible(plans)) {
    if (resource?.resourceType === 'Patient' && search?.mode === 'include')
      patients.set(`Patient/${resource.id}`, resource);
    else if (resource?.resourceType === 'CarePlan' && isOnList(resource)) listed.push(resource);
  }
  // The referral's status of everyone listed, changed or not.
  const referrals = [...new Set(listed.map((p) => referralOf(p)).filter((r): r is string => Boolean(r)))];
  const [tasks] = referrals.length
    ? await searchAll(store, [query('Task', { focus: referrals.join(','), _count: String(MAX_LISTED * 2) })])
    : [undefined];
  const tasksByReferral = new Map<string, Task>();
  for (const { resource } of visible(tasks)) {
    const focus = (resource as Task | undefined)?.focus?.reference;
    if (focus) tasksByReferral.set(focus, resource as Task);
  }
  const changedGoals = visible(goals).map((e) => e.resource as Goal);
  const changedOutcomes = visible(outcomes).map((e) => e.resource as QuestionnaireResponse);

  const entries: MeetingEntry[] = [];
  for (const plan of listed) {
    const patient = patients.get(plan.subject?.reference ?? '');
    if (!patient || !isVisible(ctx.principal, patient)) continue;
    const goalRefs = new Set((plan.goal ?? []).map((g) => g.reference));
    const goalOrder = (plan.goal ?? []).map((g) => g.reference);
    const planGoals = changedGoals
      .filter((g) => goalRefs.has(`Goal/${g.id}`))
      .sort((a, b) => goalOrder.indexOf(`Goal/${a.id}`) - goalOrder.indexOf(`Goal/${b.id}`));
    const planOutcomes = changedOutcomes
      .filter((q) => q.basedOn?.some((b) => b.reference === `CarePlan/${plan.id}`))
      .sort((a, b) => (a.authored ?? '').localeCompare(b.authored ?? ''));
    const task = tasksByReferral.get(referralOf(plan) ?? '');
    // In the order listed below (the referral, the plan, its goals as the plan lists them, measures
    // as recorded), each with its time: never by id, nor by milliseconds between writes made together.
    const changes: MeetingChange[] = [];
    if (task && after(task, sinceMs)) {
      const isNew = Date.parse(task.authoredOn ?? '') > sinceMs;
      changes.push({
        at: task.meta?.lastUpdated ?? '',
        what: isNew ? 'new-referral' : 'referral-status',
        reference: `Task/${task.id}`,
      });
    }
    if (after(plan, sinceMs))
      changes.push({ at: plan.meta?.lastUpdated ?? '', what: 'care-plan', reference: `CarePlan/${plan.id}` });
    for (const g of planGoals)
      changes.push({ at: g.meta?.lastUpdated ?? '', what: 'goal', reference: `Goal/${g.id}` });
    for (const q of planOutcomes)
      changes.push({
        at: q.meta?.lastUpdated ?? '',
        what: 'outcome',
        reference: `QuestionnaireResponse/${q.id}`,
      });
    entries.push({
      patient,
      carePlan: plan,
      ...(task ? { task } : {}),
      goals: planGoals,
      outcomes: planOutcomes,
      changes,
    });
  }
  // Those with something new first, then the rest; each group by name, then NHS number.
  const nhs = (e: MeetingEntry) =>
    e.patient.identifier?.find((i) => i.system === SYSTEM.nhsNumber)?.value ?? '';
  const name = (e: MeetingEntry) =>
    `${e.patient.name?.[0]?.family ?? ''} ${(e.patient.name?.[0]?.given ?? []).join(' ')}`;
  entries.sort(
    (a, b) =>
      Number(b.changes.length > 0) - Number(a.changes.length > 0) ||
      name(a).localeCompare(name(b)) ||
      nhs(a).localeCompare(nhs(b)),
  );
  const shown = entries.flatMap((e) => [
    e.patient,
    e.carePlan,
    ...(e.task ? [e.task] : []),
    ...e.goals,
    ...e.outcomes,
  ]);
  ctx.touched.push(...shown.map((r) => `${r.resourceType}/${r.id}`));
  noteDisclosures(ctx, shown);
  return entries;
}

/**
 * Whether a plan the caller sees is on its list: shared with a care team on the person's consent
 * (the caller sees it as one of that team, or as a party to the plan).
 */
const isOnList = (plan: CarePlan): boolean => teamSharesOf(plan).length > 0;

/** The meeting list as FHIR: a `collection` Bundle of, per person, the Patient, plan, Task, and what changed. */
export function meetingListBundle(entries: readonly MeetingEntry[], baseUrl: string, now: string): Bundle {
  const entry: BundleEntry[] = entries.flatMap((e) =>
    [e.patient, e.carePlan, ...(e.task ? [e.task] : []), ...e.goals, ...e.outcomes].map((r) => ({
      fullUrl: `${baseUrl}/fhir/${r.resourceType}/${r.id}`,
      resource: toPublicResource(r),
    })),
  );
  return { resourceType: 'Bundle', type: 'collection', timestamp: now, entry };
}

/** The OperationDefinition of `CarePlan/$meeting-list`. */
export const MEETING_LIST_DEFINITION = {
  resourceType: 'OperationDefinition',
  id: 'care-team-meeting-list',
  url: `${CANONICAL_BASE}/OperationDefinition/care-team-meeting-list`,
  version: '0.1.0',
  name: 'CareTeamMeetingList',
  title: 'The care team meeting list',
  status: 'active',
  kind: 'operation',
  affectsState: false,
  code: 'meeting-list',
  resource: ['CarePlan'],
  system: false,
  type: true,
  instance: false,
  description:
    "For the caller's organisation: the people with an active care plan shared with a care team on their consent, where the caller is in that team or party to the plan, with what changed since `since` (the referral's status, the plan, its goals, outcome measures). A collection Bundle: per person, the Patient, the CarePlan, the referral's Task, and the Goals and QuestionnaireResponses that changed.",
  parameter: [
    {
      name: 'since',
      use: 'in',
      min: 1,
      max: '1',
      type: 'instant',
      documentation: 'Changes after this instant are listed',
    },
    { name: 'return', use: 'out', min: 1, max: '1', type: 'Bundle' },
  ],
} as const;
