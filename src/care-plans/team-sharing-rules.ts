import type { CareTeam, CareTeamParticipant, Consent, Reference } from '@medplum/fhirtypes';
import type { TeamShare } from '../auth/tenancy.ts';
import { instantOf, isInFuture } from '../fhir/dates.ts';
import type { Issue } from '../fhir/outcomes.ts';
import { ODS_SYSTEMS } from '../fhir/systems.ts';
import { parseLocalReference } from '../workflow/references.ts';

/**
 * The rules of sharing a care plan with the person's care team, without I/O. A care-team consent
 * is a Consent whose one `provision.actor` is the plan's CareTeam (role: information recipient):
 * the person agrees to share the plan with whoever is in that team, so a member added later is
 * covered and one removed is not. The consent in force for a team is the one recorded last
 * (`dateTime`, then the order stored); it shares while it is `active` and permits.
 */

/** Who the team is to the consent: the recipient of the information (HL7 v3 ParticipationType). */
export const INFORMATION_RECIPIENT = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  code: 'IRCP',
  display: 'information recipient',
} as const;

/** Statuses a care-team consent may be recorded with, and those it may move to once recorded. */
export const NEW_CONSENT_STATUSES: readonly Consent['status'][] = ['active', 'rejected'];
export const WITHDRAWN_STATUSES: readonly Consent['status'][] = ['inactive', 'rejected'];

/** The `CareTeam/{id}` a consent shares with, when exactly one actor names a CareTeam. */
export function teamOfConsent(consent: Consent): string | undefined {
  const teams = (consent.provision?.actor ?? [])
    .map((a) => a.reference?.reference)
    .filter((r): r is string => parseLocalReference(r)?.type === 'CareTeam');
  return teams.length === 1 ? teams[0] : undefined;
}

/** Whether a consent, in force, shares: active and permitting. */
export function consentShares(consent: Consent | undefined): boolean {
  return consent?.status === 'active' && consent.provision?.type === 'permit';
}

/**
 * Of the consents naming a team, the one in force: the latest `dateTime`. Of equal times a refusal
 * or withdrawal wins over a grant (sharing is never what a tie decides); otherwise the one given
 * last (the caller lists them in the order stored, a new one at the end).
 */
export function consentInForce(consents: readonly Consent[]): Consent | undefined {
  let found: Consent | undefined;
  for (const consent of consents) {
    const at = instantOf(consent.dateTime ?? '');
    const best = found ? instantOf(found.dateTime ?? '') : Number.NEGATIVE_INFINITY;
    if (at > best || (at === best && !(consentShares(consent) && !consentShares(found)))) found = consent;
  }
  return found;
}

/** The problems with a care-team consent about to be recorded (new) for this plan's person. */
export function newConsentIssues(consent: Consent, subject: string | undefined, now: Date): Issue[] {
  const issues: Issue[] = [];
  if (!NEW_CONSENT_STATUSES.includes(consent.status)) {
    issues.push({
      code: 'value',
      diagnostics: 'A care-team consent is recorded active (given) or rejected (refused)',
      expression: ['Consent.status'],
    });
  }
  if (consent.provision?.type !== 'permit' && consent.provision?.type !== 'deny') {
    issues.push({
      code: 'required',
      diagnostics: 'provision.type says whether the person permits or denies sharing with the team',
      expression: ['Consent.provision.type'],
    });
  }
  if (!teamOfConsent(consent)) {
    issues.push({
      code: 'required',
      diagnostics: 'provision.actor names the care team shared with: exactly one CareTeam reference',
      expression: ['Consent.provision.actor'],
    });
  }
  if (consent.patient?.reference !== subject) {
    issues.push({
      code: 'invariant',
      diagnostics: `The consent is the care plan's person's (${subject})`,
      expression: ['Consent.patient'],
    });
  }
  if (!consent.dateTime) {
    issues.push({
      code: 'required',
      diagnostics: 'dateTime: when the person agreed',
      expression: ['Consent.dateTime'],
    });
  } else if (isInFuture(consent.dateTime, now, 5 * 60_000)) {
    issues.push({
      code: 'value',
      diagnostics: 'dateTime is in the future',
      expression: ['Consent.dateTime'],
    });
  }
  return issues;
}

/**
 * How a participant names its organisation: `onBehalfOf`, or a `member` that is an Organization
 * (by reference, or logically by ODS code).
 */
export function participantOrganisation(participant: CareTeamParticipant): Reference | undefined {
  if (participant.onBehalfOf) return participant.onBehalfOf;
  const member = participant.member;
  if (!member) return undefined;
  if (parseLocalReference(member.reference)?.type === 'Organization') return member;
  if (member.type === 'Organization' || ODS_SYSTEMS.includes(member.identifier?.system ?? '')) return member;
  return undefined;
}

/** The team's participants that name an organisation and whose period has not ended. */
export function currentOrganisationParticipants(team: CareTeam, now: Date): Reference[] {
  if (team.status && team.status !== 'active' && team.status !== 'proposed') return [];
  return (team.participant ?? [])
    .filter((p) => !p.period?.end || instantOf(p.period.end) > now.getTime())
    .map(participantOrganisation)
    .filter((r): r is Reference => r !== undefined);
}

/**
 * The shares a plan's parts carry: each team organisation that is not already a party to the
 * plan, once, on the consent in force (none unless it shares).
 */
export function sharesFor(
  teamOrganisations: readonly string[],
  parties: readonly string[],
  consent: Consent | undefined,
): TeamShare[] {
  if (!consent?.id || !consentShares(consent)) return [];
  const codes = [...new Set(teamOrganisations)].filter((o) => !parties.includes(o)).sort();
  return codes.map((organization) => ({ organization, consent: `Consent/${consent.id}` }));
}

/** Every share of several plans of one person, once per organisation: what their record carries. */
export function unionOfShares(...lists: readonly (readonly TeamShare[])[]): TeamShare[] {
  const byOrganisation = new Map<string, TeamShare>();
  for (const list of lists)
    for (const s of list) if (!byOrganisation.has(s.organization)) byOrganisation.set(s.organization, s);
  return [...byOrganisation.values()].sort((a, b) => a.organization.localeCompare(b.organization));
}

/** Whether two lists of shares are the same (order aside). */
export function sameShares(a: readonly TeamShare[], b: readonly TeamShare[]): boolean {
  const key = (list: readonly TeamShare[]) =>
    list
      .map((s) => `${s.organization}|${s.consent}`)
      .sort()
      .join(',');
  return key(a) === key(b);
}
