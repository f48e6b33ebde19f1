import type { CareTeam, Consent } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import {
  consentInForce,
  consentShares,
  currentOrganisationParticipants,
  newConsentIssues,
  sameShares,
  sharesFor,
  teamOfConsent,
  unionOfShares,
} from '../../src/care-plans/team-sharing-rules.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';

indexDefinitions();

const NOW = new Date('2026-12-01T10:00:00Z');
const consent = (over: Partial<Consent> = {}): Consent =>
  ({
    resourceType: 'Consent',
    id: 'c1',
    status: 'active',
    scope: { text: 'privacy' },
    category: [{ text: 'consent' }],
    patient: { reference: 'Patient/p1' },
    dateTime: '2026-12-01T09:00:00Z',
    provision: {
      type: 'permit',
      actor: [{ role: { text: 'recipient' }, reference: { reference: 'CareTeam/t1' } }],
    },
    ...over,
  }) as Consent;

describe('care-team consent rules', () => {
  it('takes the team from the one CareTeam actor', () => {
    expect(teamOfConsent(consent())).toBe('CareTeam/t1');
    expect(teamOfConsent(consent({ provision: { type: 'permit' } }))).toBeUndefined();
    const two = consent({
      provision: {
        type: 'permit',
        actor: [
          { role: { text: 'r' }, reference: { reference: 'CareTeam/t1' } },
          { role: { text: 'r' }, reference: { reference: 'CareTeam/t2' } },
        ],
      },
    });
    expect(teamOfConsent(two)).toBeUndefined();
    expect(
      teamOfConsent(
        consent({
          provision: {
            type: 'permit',
            actor: [{ role: { text: 'r' }, reference: { reference: 'Organization/o' } }],
          },
        }),
      ),
    ).toBeUndefined();
  });

  it('shares while the consent in force is active and permits; the last recorded is in force', () => {
    expect(consentShares(consent())).toBe(true);
    expect(consentShares(consent({ status: 'inactive' }))).toBe(false);
    expect(consentShares(consent({ provision: { type: 'deny' } }))).toBe(false);
    expect(consentShares(undefined)).toBe(false);
    const grant = consent();
    const refusal = consent({ id: 'c2', provision: { type: 'deny' }, dateTime: '2026-12-01T09:30:00Z' });
    const olderRefusal = consent({ id: 'c3', provision: { type: 'deny' }, dateTime: '2026-11-30T09:30:00Z' });
    expect(consentInForce([grant, refusal])?.id).toBe('c2');
    expect(consentInForce([refusal, grant])?.id).toBe('c2');
    expect(consentInForce([grant, olderRefusal])?.id).toBe('c1');
    // A tie never shares: a refusal at the same time wins, in either order.
    const tiedRefusal = consent({ id: 'c5', provision: { type: 'deny' } });
    expect(consentInForce([tiedRefusal, grant])?.id).toBe('c5');
    expect(consentInForce([grant, tiedRefusal])?.id).toBe('c5');
    // Of equal times, the one stored last.
    expect(consentInForce([grant, { ...grant, id: 'c4' }])?.id).toBe('c4');
    expect(consentInForce([])).toBeUndefined();
  });

  it('refuses a new consent without a decision, a team, the plan’s person or a time, or in the future', () => {
    expect(newConsentIssues(consent(), 'Patient/p1', NOW)).toEqual([]);
    const codes = (c: Consent, subject = 'Patient/p1') =>
      newConsentIssues(c, subject, NOW).map((i) => i.expression?.[0]);
    expect(codes(consent({ status: 'draft' }))).toEqual(['Consent.status']);
    expect(codes(consent({ provision: { actor: consent().provision?.actor } }))).toEqual([
      'Consent.provision.type',
    ]);
    expect(codes(consent({ provision: { type: 'permit' } }))).toEqual(['Consent.provision.actor']);
    expect(codes(consent(), 'Patient/other')).toEqual(['Consent.patient']);
    expect(codes(consent({ dateTime: undefined }))).toEqual(['Consent.dateTime']);
    expect(codes(consent({ dateTime: '2026-12-01T10:10:00Z' }))).toEqual(['Consent.dateTime']);
    expect(codes(consent({ dateTime: '2026-12-01T10:04:00Z' }))).toEqual([]);
  });
});

describe('care-team sharing rules', () => {
  it('takes the organisations of current participants, by onBehalfOf or an Organization member', () => {
    const team: CareTeam = {
      resourceType: 'CareTeam',
      status: 'active',
      participant: [
        { member: { display: 'Sam' } },
        {
          member: { display: 'Jo' },
          onBehalfOf: {
            identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RDN01' },
          },
        },
        { member: { reference: 'Organization/o2' } },
        { member: { reference: 'Practitioner/p' } },
        { member: { reference: 'Organization/gone' }, period: { end: '2026-11-30' } },
      ],
    };
    expect(currentOrganisationParticipants(team, NOW)).toEqual([
      { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RDN01' } },
      { reference: 'Organization/o2' },
    ]);
    expect(currentOrganisationParticipants({ ...team, status: 'inactive' }, NOW)).toEqual([]);
  });

  it('shares with each team organisation not already party, once, on the consent in force only if it shares', () => {
    expect(sharesFor(['RDN01', 'SPX01', 'RDN01', 'RSW01'], ['B99901', 'SPX01'], consent())).toEqual([
      { organization: 'RDN01', consent: 'Consent/c1' },
      { organization: 'RSW01', consent: 'Consent/c1' },
    ]);
    expect(sharesFor(['RDN01'], [], consent({ status: 'inactive' }))).toEqual([]);
    expect(sharesFor(['RDN01'], [], undefined)).toEqual([]);
  });

  it('joins the shares of a person’s plans once per organisation, and compares lists whatever their order', () => {
    const a = [{ organization: 'RDN01', consent: 'Consent/c1' }];
    const b = [
      { organization: 'RSW01', consent: 'Consent/c2' },
      { organization: 'RDN01', consent: 'Consent/c2' },
    ];
    expect(unionOfShares(a, b)).toEqual([
      { organization: 'RDN01', consent: 'Consent/c1' },
      { organization: 'RSW01', consent: 'Consent/c2' },
    ]);
    expect(sameShares(b, [...b].reverse())).toBe(true);
    expect(sameShares(a, b)).toBe(false);
  });
});
