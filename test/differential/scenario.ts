import { readFileSync } from 'node:fs';
import type { Bundle } from '@medplum/fhirtypes';
import { isValidNhsNumber } from '../../src/fhir/nhs-number.ts';
import { type Answer, CLIENT, type ClientName, type Request, type World } from './world.ts';

/** People referred in both worlds' stories: valid NHS numbers, the observer's details of them. */
export interface Person {
  nhs: string;
  family: string;
  given: string;
  birthDate: string;
}

function nhsNumbers(count: number): string[] {
  const found: string[] = [];
  for (let base = 999000101; found.length < count; base++) {
    for (let digit = 0; digit < 10; digit++) {
      const candidate = `${base}${digit}`;
      if (isValidNhsNumber(candidate)) {
        found.push(candidate);
        break;
      }
    }
  }
  return found;
}

const NUMBERS = nhsNumbers(5);
export const PEOPLE: Person[] = [
  { nhs: NUMBERS[0] as string, family: 'Okafor', given: 'Grace', birthDate: '1948-03-02' },
  { nhs: NUMBERS[1] as string, family: 'Rahman', given: 'Amir', birthDate: '1961-07-14' },
  { nhs: NUMBERS[2] as string, family: 'Bell', given: 'Joseph', birthDate: '1952-11-30' },
  { nhs: NUMBERS[3] as string, family: 'Nowak', given: 'Ada', birthDate: '1939-05-21' },
];

/** Someone only the second practice refers, in every world: its directory entries are in both. */
const ITS_OWN: Person = { nhs: NUMBERS[4] as string, family: 'Price', given: 'Lee', birthDate: '1970-02-02' };

/** The same person as another organisation (or a mistaken sender) describes them. */
export function otherDetails(person: Person): Person {
  return { ...person, family: `${person.family}-Other`, given: 'Someone', birthDate: '1990-01-01' };
}

const TEMPLATE = readFileSync(
  new URL('../../examples/referrals/01-gp-transaction-bundle.200.request.json', import.meta.url),
  'utf8',
);

const PRACTITIONERS: Record<string, [string, string]> = {
  B99901: ['555000000011', '555000000012'],
  B99902: ['555000000021', '555000000022'],
};

/** A referral Bundle from `sender` to `receiver` for the person as described, under `id`. */
export function referralBundle(options: {
  sender: 'B99901' | 'B99902';
  receiver: 'SPX01' | 'HSP01';
  person: Person;
  id: string;
}): Bundle {
  const [user, role] = PRACTITIONERS[options.sender] as [string, string];
  const text = TEMPLATE.replaceAll('"B99901"', `"${options.sender}"`)
    .replaceAll('"SPX01"', `"${options.receiver}"`)
    .replaceAll('555000000011', user)
    .replaceAll('555000000012', role)
    .replaceAll('RMP-2026-000101', options.id);
  const bundle = JSON.parse(text).body as Bundle;
  const patient = bundle.entry?.[0]?.resource;
  if (patient?.resourceType !== 'Patient') throw new Error('the template starts with its Patient');
  patient.identifier = [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: options.person.nhs }];
  patient.name = [{ use: 'official', family: options.person.family, given: [options.person.given] }];
  patient.birthDate = options.person.birthDate;
  return bundle;
}

/** The same referral as plain JSON (the sender's organisation is its client's). */
export function jsonReferral(options: { receiver: 'SPX01' | 'HSP01'; person: Person; id: string }): Request {
  return {
    method: 'POST',
    path: '/referrals',
    headers: { 'content-type': 'application/json' },
    body: {
      referralId: options.id,
      patient: {
        nhsNumber: options.person.nhs,
        givenName: options.person.given,
        familyName: options.person.family,
        birthDate: options.person.birthDate,
      },
      referrer: { name: 'Sam Patel', organisation: { name: 'Sender' } },
      receivingServiceOdsCode: options.receiver,
      reasons: [{ snomedCode: '422650009' }],
      consent: { given: true, date: '2026-11-19T14:00:00Z' },
      authoredOn: '2026-11-19T14:05:00Z',
    },
  };
}

/** A single ServiceRequest naming the person by NHS number only (as example 06 does). */
export function namedPersonReferral(options: {
  nhs: string;
  id: string;
  receiver: 'SPX01' | 'HSP01';
}): Request {
  const example = JSON.parse(
    readFileSync(
      new URL('../../examples/referrals/06-single-service-request.201.request.json', import.meta.url),
      'utf8',
    ),
  );
  const text = JSON.stringify(example.body)
    .replaceAll('9990000026', options.nhs)
    .replaceAll('RMP-2026-000106', options.id)
    .replaceAll('"SPX01"', `"${options.receiver}"`);
  return {
    method: 'POST',
    path: '/fhir/ServiceRequest',
    headers: { 'content-type': 'application/fhir+json' },
    body: text,
  };
}

/** The second service, registered in every world: the others refer to it. */
export const SECOND_SERVICE: Bundle = {
  resourceType: 'Bundle',
  type: 'transaction',
  entry: [
    {
      fullUrl: 'urn:uuid:2d1c0000-0000-4000-8000-000000000001',
      resource: {
        resourceType: 'Organization',
        identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'HSP01' }],
        name: 'Hillside Social Prescribing (example)',
      },
      request: { method: 'POST', url: 'Organization' },
    },
    {
      fullUrl: 'urn:uuid:2d1c0000-0000-4000-8000-000000000002',
      resource: {
        resourceType: 'HealthcareService',
        active: true,
        name: 'Hillside link workers (example)',
        providedBy: { reference: 'urn:uuid:2d1c0000-0000-4000-8000-000000000001' },
      },
      request: { method: 'POST', url: 'HealthcareService' },
    },
  ],
};

const post = (path: string, body: unknown, contentType = 'application/json'): Request => ({
  method: 'POST',
  path,
  headers: { 'content-type': contentType },
  body,
});

/** The id of the first `type` an answer names (its location, or a resource of that type in it). */
export function idIn(answer: Answer, type: string): string | undefined {
  const text = `${answer.headers.location ?? ''} ${JSON.stringify(answer.body)}`;
  return new RegExp(`${type}/([0-9a-f-]{36})`).exec(text)?.[1];
}

/** A member of a plan's care team, named by organisation. */
export interface TeamMember {
  name: string;
  role: string;
  organisation?: { odsCode: string };
}

/** The district nursing team (the care-team observer) and a social work team, both in the directory. */
export const TEAM_ORGANISATIONS = { nursing: 'RDN01', socialWork: 'RSW01' } as const;

/** What the link workers of a service do with a referral they received: accept, plan, measure. */
async function workReferral(
  world: World,
  client: ClientName,
  referralId: string,
  careTeam: TeamMember[] = [{ name: 'A link worker', role: 'link-worker' }],
  consent?: 'share' | 'refuse',
): Promise<void> {
  await world.send(client, post(`/referrals/${referralId}/$accept`, { businessStatus: 'contacted' }));
  await world.send(
    client,
    post(`/referrals/${referralId}/$start`, { businessStatus: 'first-conversation-held' }),
  );
  await world.send(
    client,
    post(`/referrals/${referralId}/care-plan`, {
      status: 'active',
      title: 'Plan',
      whatMattersToMe: 'Getting out more',
      period: { start: '2026-11-19' },
      author: { name: 'A link worker' },
      goals: [{ description: 'Walk twice a week' }],
      activities: [
        {
          category: 'physical-activity',
          description: 'Health walks',
          status: 'scheduled',
          provider: { name: 'Walks' },
          goal: 0,
        },
      ],
      careTeam,
    }),
  );
  if (consent === 'share') {
    await world.send(client, post(`/referrals/${referralId}/care-team/consent`, { decision: 'share' }));
  }
  if (consent === 'refuse') await refuseSharing(world, client, referralId);
  await world.send(
    client,
    post(`/referrals/${referralId}/outcomes`, {
      measure: 'ons4-personal-wellbeing',
      answers: { 'life-satisfaction': 3, worthwhile: 2, happiness: 4, anxiety: 7 },
      authored: '2026-11-19T10:00:00Z',
    }),
  );
}

/** The person's refusal to share their plan with its care team, recorded in FHIR by the plan's keeper. */
async function refuseSharing(world: World, client: ClientName, referralId: string): Promise<void> {
  const plans = await world.send(client, {
    path: `/fhir/CarePlan?_include=CarePlan:care-team&_count=100`,
  });
  const entries = (plans.body as Bundle).entry ?? [];
  const plan = entries
    .map((e) => e.resource)
    .find(
      (r) =>
        r?.resourceType === 'CarePlan' &&
        r.supportingInfo?.some((s) => s.reference === `ServiceRequest/${referralId}`),
    );
  const team = plan?.resourceType === 'CarePlan' ? plan.careTeam?.[0]?.reference : undefined;
  if (!plan || !team) return;
  await world.send(client, {
    method: 'POST',
    path: '/fhir/Consent',
    headers: { 'content-type': 'application/fhir+json' },
    body: {
      resourceType: 'Consent',
      status: 'active',
      scope: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }],
      },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: plan.resourceType === 'CarePlan' ? plan.subject : undefined,
      dateTime: '2026-11-19T12:00:00Z',
      provision: {
        type: 'deny',
        actor: [{ role: { text: 'information recipient' }, reference: { reference: team } }],
      },
    },
  });
}

/** The observed organisation in a differential run. */
export type Role = 'gp' | 'sp' | 'directory' | 'auditor' | 'team';

export const OBSERVER: Record<Role, ClientName> = {
  gp: CLIENT.gp,
  sp: CLIENT.sp,
  directory: CLIENT.directory,
  auditor: CLIENT.gpAudit,
  team: CLIENT.nurse,
};

const nurseInTeam: TeamMember[] = [
  { name: 'A link worker', role: 'link-worker' },
  { name: 'A district nurse', role: 'district-nurse', organisation: { odsCode: TEAM_ORGANISATIONS.nursing } },
];

/**
 * What both worlds hold before anyone else acts: the receiving service has referrals to work, and
 * the practice's auditor has its practice's requests to read.
 */
export async function commonBase(world: World, role: Role): Promise<void> {
  await world.store.bundle(SECOND_SERVICE);
  // Directory data is everyone's: the second practice, its GP and their role are registered in
  // both worlds (by a referral of its own), so what differs between them is personal data only.
  await world.send(CLIENT.otherGp, {
    method: 'POST',
    path: '/fhir',
    headers: { 'content-type': 'application/fhir+json' },
    body: referralBundle({ sender: 'B99902', receiver: 'HSP01', person: ITS_OWN, id: 'O-BASE' }),
  });
  if (role === 'team') {
    // The care teams' organisations are in the directory (everyone's) in both worlds.
    for (const code of Object.values(TEAM_ORGANISATIONS)) {
      await world.send(CLIENT.directory, {
        method: 'POST',
        path: '/fhir/Organization',
        headers: { 'content-type': 'application/fhir+json' },
        body: {
          resourceType: 'Organization',
          active: true,
          name: `Care team ${code}`,
          identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: code }],
        },
      });
    }
  }
  if (role !== 'sp' && role !== 'auditor' && role !== 'team') return;
  for (const [i, person] of PEOPLE.slice(0, 2).entries()) {
    const answer = await world.send(CLIENT.gp, {
      method: 'POST',
      path: '/fhir',
      headers: { 'content-type': 'application/fhir+json' },
      body: referralBundle({ sender: 'B99901', receiver: 'SPX01', person, id: `BASE-${i + 1}` }),
    });
    // The service plans for both with the district nurses in the team; only the first agrees to share.
    const referral = idIn(answer, 'ServiceRequest');
    if (role === 'team' && referral)
      await workReferral(world, CLIENT.sp, referral, nurseInTeam, i === 0 ? 'share' : undefined);
  }
}

/**
 * What the other organisations do in the busy world only: a second practice refers the same
 * people (other details, the same referral identifiers the observer uses) to the second service,
 * and to the observed service where that shares nothing with the observer; the second service
 * works them; the second practice and the operator read the audit trail; the second practice
 * tries the directory with its wildcard scopes.
 */
export async function othersAct(world: World, role: Role, round: number): Promise<void> {
  const receivers: ('SPX01' | 'HSP01')[] = role === 'sp' ? ['HSP01'] : ['HSP01', 'SPX01'];
  for (const [i, person] of PEOPLE.entries()) {
    const receiver = receivers[(i + round) % receivers.length] as 'SPX01' | 'HSP01';
    const answer = await world.send(CLIENT.otherGp, {
      method: 'POST',
      path: '/fhir',
      headers: { 'content-type': 'application/fhir+json' },
      body: referralBundle({
        sender: 'B99902',
        receiver,
        person: otherDetails(person),
        id: `R-${i + 1 + round * 10}`,
      }),
    });
    const referral = idIn(answer, 'ServiceRequest');
    if (referral && receiver === 'HSP01' && i % 2 === round % 2) {
      if (role === 'team') {
        // Teams that name the district nurses but whose person refused, and teams shared with
        // others only: nothing of them is the observer's.
        const refused = i % 4 < 2;
        const team: TeamMember[] = refused
          ? nurseInTeam
          : [
              { name: 'A link worker', role: 'link-worker' },
              {
                name: 'A social worker',
                role: 'social-worker',
                organisation: { odsCode: TEAM_ORGANISATIONS.socialWork },
              },
            ];
        await workReferral(world, CLIENT.otherSp, referral, team, refused ? 'refuse' : 'share');
      } else await workReferral(world, CLIENT.otherSp, referral);
    }
  }
  await world.send(
    CLIENT.otherGp,
    jsonReferral({ receiver: 'HSP01', person: otherDetails(PEOPLE[1] as Person), id: 'WEB-1' }),
  );
  await world.send(
    CLIENT.otherGp,
    namedPersonReferral({ nhs: PEOPLE[0]?.nhs as string, id: 'N-1', receiver: 'HSP01' }),
  );
  await world.send(CLIENT.otherAudit, { path: '/fhir/AuditEvent?_count=100' });
  await world.send(CLIENT.operator, { path: '/fhir/AuditEvent?_count=100' });
  await world.send(CLIENT.otherGp, {
    path: `/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|${PEOPLE[0]?.nhs}`,
  });
  await world.send(
    CLIENT.otherGp,
    post(
      '/fhir/HealthcareService',
      { resourceType: 'HealthcareService', active: false, name: 'x' },
      'application/fhir+json',
    ),
  );
}
