import type {
  Bundle,
  BundleEntry,
  CarePlan,
  CareTeam,
  Consent,
  Goal,
  Patient,
  QuestionnaireResponse,
  Resource,
  Task,
} from '@medplum/fhirtypes';
import { type TeamShare, teamSharesOf, withTeamShares } from '../auth/tenancy.ts';
import type { Issue } from '../fhir/outcomes.ts';
import { ODS_SYSTEMS } from '../fhir/systems.ts';
import { StoreError } from '../medplum/errors.ts';
import { type FhirStore, readIfExists, searchAll } from '../medplum/store.ts';
import { organisationOdsOf } from '../workflow/organisations.ts';
import { parseLocalReference } from '../workflow/references.ts';
import { accessOf, postEntry } from '../workflow/writes.ts';
import { referralOf } from './care-plan-rules.ts';
import {
  consentInForce,
  currentOrganisationParticipants,
  sameShares,
  sharesFor,
  unionOfShares,
} from './team-sharing-rules.ts';

/**
 * The care-team labels of a plan's parts (team-sharing.ts): what the parts are, the writes that
 * bring their labels in line with the consent in force and the team, and the person's record
 * aligned with all their plans once a change is stored.
 */

export interface PlanParts {
  plan: CarePlan;
  goals: Goal[];
  teams: CareTeam[];
  consents: Consent[];
  task?: Task;
  responses: QuestionnaireResponse[];
  patient?: Patient;
  /** The person's other care plans, whose shares their record also carries. */
  otherPlans: CarePlan[];
}

/** Everything the sharing of a plan touches, in one round trip after the plan. */
export async function partsOf(store: FhirStore, plan: CarePlan): Promise<PlanParts> {
  const ids = (refs: { reference?: string }[] | undefined, type: string) =>
    (refs ?? [])
      .map((r) => parseLocalReference(r.reference))
      .filter((t) => t?.type === type)
      .map((t) => t?.id as string);
  const goalIds = ids(plan.goal, 'Goal');
  const teamIds = ids(plan.careTeam, 'CareTeam');
  const srId = parseLocalReference(referralOf(plan))?.id ?? 'none';
  const subject = plan.subject?.reference ?? 'none';
  const [goals, teams, consents, tasks, responses, plans] = await searchAll(store, [
    { type: 'Goal', query: { _id: goalIds.join(',') || 'none', _count: '100' } },
    { type: 'CareTeam', query: { _id: teamIds.join(',') || 'none', _count: '100' } },
    {
      type: 'Consent',
      query: {
        actor: teamIds.map((id) => `CareTeam/${id}`).join(',') || 'none',
        _sort: '_lastUpdated',
        _count: '1000',
      },
    },
    { type: 'Task', query: { focus: `ServiceRequest/${srId}`, _count: '10' } },
    { type: 'QuestionnaireResponse', query: { 'based-on': `CarePlan/${plan.id}`, _count: '1000' } },
    { type: 'CarePlan', query: { subject, _count: '100' } },
  ]);
  const of = <T>(bundle: Bundle | undefined) => (bundle?.entry ?? []).map((e) => e.resource as T);
  const patientId = parseLocalReference(subject)?.id;
  return {
    plan,
    goals: of<Goal>(goals),
    teams: of<CareTeam>(teams),
    consents: of<Consent>(consents),
    task: of<Task>(tasks)[0],
    responses: of<QuestionnaireResponse>(responses),
    patient: patientId ? await readIfExists<Patient>(store, 'Patient', patientId) : undefined,
    otherPlans: of<CarePlan>(plans).filter((p) => p.id !== plan.id),
  };
}

/** The ODS codes of the organisations in the teams; a name that reaches no directory entry is an issue. */
async function teamOrganisations(
  store: FhirStore,
  teams: readonly CareTeam[],
  now: Date,
): Promise<{ codes: string[]; issues: Issue[] }> {
  const codes: string[] = [];
  const issues: Issue[] = [];
  for (const team of teams) {
    for (const ref of currentOrganisationParticipants(team, now)) {
      const logical = ref.identifier && ODS_SYSTEMS.includes(ref.identifier.system ?? '');
      // An organisation named by ODS code only must be one the directory holds.
      const code = logical
        ? await knownOdsCode(store, ref.identifier?.value ?? '')
        : await organisationOdsOf(store, ref);
      if (code) codes.push(code);
      else {
        issues.push({
          code: 'not-found',
          diagnostics: 'A care team organisation is not one the directory holds (by reference or ODS code)',
          expression: ['CareTeam.participant'],
        });
      }
    }
  }
  return { codes, issues };
}

async function knownOdsCode(store: FhirStore, code: string): Promise<string | undefined> {
  const normal = code.trim().toUpperCase();
  const found = await store.search('Organization', {
    identifier: ODS_SYSTEMS.map((s) => `${s}|${normal}`).join(','),
    _count: '1',
  });
  return found.entry?.length ? normal : undefined;
}

/**
 * The writes that bring every part's care-team labels in line with the consent in force and the
 * team, with `changing` (the consent or team this request writes, in its new form) taking the
 * place of its stored version and always written. Returns the entries (PUTs at the version read,
 * and the POST of a new resource), the plan's shares, and the references of what changed.
 */
export async function sharingWrites(
  store: FhirStore,
  parts: PlanParts,
  changing: Consent | CareTeam,
  now: Date,
  writeChanging = true,
): Promise<{ entries: BundleEntry[]; shares: TeamShare[]; changed: string[]; issues: Issue[] }> {
  const replace = <T extends Resource>(list: T[]): T[] =>
    changing.id && list.some((r) => r.id === changing.id)
      ? list.map((r) => (r.id === changing.id ? (changing as T) : r))
      : [...list, changing as T];
  const teams = changing.resourceType === 'CareTeam' ? replace(parts.teams) : parts.teams;
  const consents = changing.resourceType === 'Consent' ? replace(parts.consents) : parts.consents;
  const inForce = consentInForce(consents);
  const { codes, issues } = await teamOrganisations(store, teams, now);
  const shares = sharesFor(codes, accessOf(parts.plan), inForce);

  const entries: BundleEntry[] = [];
  const changed: string[] = [];
  const put = (resource: Resource, want: TeamShare[]) => {
    const always = writeChanging && resource === changing;
    if (!always && sameShares(teamSharesOf(resource), want)) return;
    const labelled = withTeamShares(resource, want);
    if (!resource.id) {
      entries.push(postEntry(labelled, CHANGING));
      changed.push(CHANGING);
      return;
    }
    entries.push({
      resource: labelled,
      request: {
        method: 'PUT',
        url: `${resource.resourceType}/${resource.id}`,
        ifMatch: `W/"${resource.meta?.versionId}"`,
      },
    });
    changed.push(`${resource.resourceType}/${resource.id}`);
  };
  put(parts.plan, shares);
  for (const goal of parts.goals) put(goal, shares);
  for (const team of teams) put(team, shares);
  for (const consent of consents) put(consent, consent === inForce ? shares : []);
  if (parts.task) put(parts.task, shares);
  for (const response of parts.responses) put(response, shares);
  if (parts.patient) put(parts.patient, unionOfShares(shares, ...parts.otherPlans.map(teamSharesOf)));
  return { entries, shares, changed, issues };
}

/** The full URL of a new resource a change writes. */
export const CHANGING = 'urn:uuid:changing';

/**
 * The person's record made to carry the shares of their plans as they stand once this change is
 * stored: a change to another of their plans written meanwhile computed it from this plan's
 * labels before this write. Whichever of two such changes is stored last reads both.
 */
export async function alignPerson(store: FhirStore, plan: CarePlan): Promise<void> {
  const patientId = parseLocalReference(plan.subject?.reference)?.id;
  if (!patientId) return;
  for (let attempt = 1; ; attempt++) {
    const [patients, plans] = await searchAll(store, [
      { type: 'Patient', query: { _id: patientId } },
      { type: 'CarePlan', query: { subject: `Patient/${patientId}`, _count: '100' } },
    ]);
    const patient = patients?.entry?.[0]?.resource as Patient | undefined;
    if (!patient) return;
    const shares = unionOfShares(...(plans?.entry ?? []).map((e) => teamSharesOf(e.resource as CarePlan)));
    if (sameShares(teamSharesOf(patient), shares)) return;
    try {
      await store.update(withTeamShares(patient, shares), {
        ifMatchVersion: patient.meta?.versionId as string,
      });
      return;
    } catch (err) {
      if (!(err instanceof StoreError) || err.refusal !== 'precondition-failed') throw err;
      // Overtaken three times by other writes of the record: left to the next sharing change.
      if (attempt >= 3) return;
    }
  }
}
