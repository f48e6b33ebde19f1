import fc from 'fast-check';
import {
  jsonReferral,
  namedPersonReferral,
  otherDetails,
  PEOPLE,
  type Person,
  type Role,
  referralBundle,
} from './scenario.ts';
import { CLIENT, type ClientName, type Request, type World } from './world.ts';

/**
 * One step of an observer's sequence, as data: it becomes a request only in a world, where the
 * ids it names (the k-th Patient the observer has seen, the k-th one others made) are that world's.
 */
export type Step =
  | { kind: 'refer'; person: number; wrong: boolean; id: string; receiver: 'SPX01' | 'HSP01' }
  | { kind: 'refer-json'; person: number; wrong: boolean; id: string }
  | { kind: 'refer-named'; person: number; id: string }
  | { kind: 'refer-async'; person: number; wrong: boolean; id: string }
  | { kind: 'register'; type: 'Organization' | 'HealthcareService' | 'Location'; code: string }
  | { kind: 'read'; type: string; k: number; whose: 'own' | 'others'; suffix: string; query: string }
  | { kind: 'search'; type: string; query: string }
  | { kind: 'operation'; op: string; k: number; whose: 'own' | 'others'; body?: unknown }
  | { kind: 'meeting-list'; form: 'json' | 'fhir'; since: string };

/** Types the observer reads, searches and follows. */
const TYPES = [
  'Patient',
  'ServiceRequest',
  'Task',
  'CarePlan',
  'Goal',
  'Consent',
  'Provenance',
  'QuestionnaireResponse',
  'AuditEvent',
  'CareTeam',
  'Condition',
] as const;

/** Search parameters and values of each kind, with modifiers, result parameters and the unknown. */
function queryArbitrary(): fc.Arbitrary<string> {
  const nhs = fc.constantFrom(...PEOPLE.map((p) => p.nhs), '9990000018');
  const name = fc.constantFrom(
    ...PEOPLE.flatMap((p) => [p.family, otherDetails(p).family]),
    'Someone',
    'oka',
  );
  const pair = fc.oneof(
    nhs.map((n) => `identifier=https://fhir.nhs.uk/Id/nhs-number|${n}`),
    nhs.map((n) => `identifier=${n}`),
    name.map((n) => `family=${n}`),
    name.map((n) => `name:exact=${n}`),
    name.map((n) => `name:contains=${n}`),
    fc.constantFrom(
      'status=active',
      'status=requested,accepted',
      'status:not=completed',
      'birthdate=1990-01-01',
      'birthdate=1948-03-02',
      'birthdate=ge1940-01-01',
      'authored=2026-11-18',
      'authored=ge2026-11-01',
      '_lastUpdated=ge2000-01-01',
      'subject:missing=true',
      `patient.identifier=https://fhir.nhs.uk/Id/nhs-number|${PEOPLE[0]?.nhs}`,
      '_has:ServiceRequest:subject:status=active',
      'code=http://snomed.info/sct|871731000000106',
      'owner:Organization.identifier=HSP01',
      'requester.identifier=B99902',
      '_security=https://fhir.social-prescribing.example.org/CodeSystem/organisation-access|B99902',
      '_tag=https://fhir.social-prescribing.example.org/CodeSystem/record-owner|B99902',
      'agent=B99902',
      'entity-type=Patient',
      'bogus=1',
    ),
  );
  const result = fc.constantFrom(
    '_sort=-_lastUpdated',
    '_sort=_security',
    '_sort=_tag',
    '_sort=status',
    '_sort=nonsense',
    '_include=ServiceRequest:patient',
    '_include=Task:focus',
    '_include=CarePlan:subject',
    '_include=*',
    '_revinclude=Task:focus',
    '_revinclude=Provenance:target',
    '_revinclude=ServiceRequest:subject',
    '_revinclude=CarePlan:patient',
    '_summary=count',
    '_summary=true',
    '_elements=id,subject',
    '_elements=bogus',
    '_total=accurate',
    '_count=1',
    '_count=2&_offset=1',
  );
  return fc
    .tuple(fc.array(pair, { maxLength: 2 }), fc.array(result, { maxLength: 2 }))
    .map(([a, b]) => [...a, ...b].join('&'));
}

const DIRECTORY_TYPES = [
  'Organization',
  'HealthcareService',
  'Location',
  'Practitioner',
  'PractitionerRole',
] as const;

/** Searches of the audit trail: by what, whom, when, and how sorted. */
function auditQuery(): fc.Arbitrary<string> {
  const part = fc.constantFrom(
    'action=C',
    'action=R',
    'outcome=0',
    'outcome=4',
    'subtype=create',
    'subtype=read',
    'agent-role=x',
    'entity-type=Patient',
    'date=ge2026-01-01',
    'type=rest',
    'agent:identifier=https://fhir.nhs.uk/Id/ods-organization-code|B99902',
    'agent:identifier=https://fhir.nhs.uk/Id/ods-organization-code|B99901',
    '_sort=-date',
    '_sort=_security',
    '_count=5',
    '_summary=count',
    '_total=accurate',
    '_elements=action,outcome',
  );
  return fc.array(part, { maxLength: 3 }).map((parts) => parts.join('&'));
}

/** Searches of the directory, near a person or by name and kind. */
function directoryQuery(): fc.Arbitrary<string> {
  const part = fc.constantFrom(
    'name=Riverside',
    'name=Hillside',
    'name:contains=side',
    'active=true',
    'identifier=https://fhir.nhs.uk/Id/ods-organization-code|HSP01',
    'identifier=B99902',
    '_include=HealthcareService:providedBy',
    '_revinclude=HealthcareService:organization',
    'near=51.5|-0.1|10|km',
    '_count=1',
    '_sort=name',
    '_summary=true',
  );
  return fc.array(part, { maxLength: 3 }).map((parts) => parts.join('&'));
}

const RECEIVERS = ['SPX01', 'HSP01'] as const;
const IDS = ['R-1', 'R-2', 'R-11', 'G-1', 'BASE-1'];

/** Steps an observer in `role` may take. */
export function stepArbitrary(role: Role): fc.Arbitrary<Step> {
  const person = fc.nat({ max: PEOPLE.length - 1 });
  const whose = fc.constantFrom('own' as const, 'others' as const);
  const k = fc.nat({ max: 3 });
  const type = fc.constantFrom(...TYPES);
  const read = fc.record({
    kind: fc.constant('read' as const),
    type,
    k,
    whose,
    suffix: fc.constantFrom('', '/_history', '/_history/1', '/$social-prescribing-summary'),
    query: fc.constantFrom('', '?_summary=true', '?_elements=name', '?bogus=1'),
  });
  const search = fc.record({ kind: fc.constant('search' as const), type, query: queryArbitrary() });
  const operation = fc.record({
    kind: fc.constant('operation' as const),
    op: fc.constantFrom('$accept', '$start', '$complete', '$decline', 'care-plan', 'outcomes', '$outcomes'),
    k,
    whose,
  });
  const steps: fc.Arbitrary<Step>[] = [read, search];
  if (role === 'gp') {
    steps.push(
      fc.record({
        kind: fc.constant('refer' as const),
        person,
        wrong: fc.boolean(),
        id: fc.constantFrom(...IDS),
        receiver: fc.constantFrom(...RECEIVERS),
      }),
      fc.record({
        kind: fc.constant('refer-json' as const),
        person,
        wrong: fc.boolean(),
        id: fc.constantFrom('WEB-1', 'WEB-2'),
      }),
      fc.record({ kind: fc.constant('refer-named' as const), person, id: fc.constantFrom('N-1', 'N-2') }),
    );
  }
  if (role === 'gp') {
    steps.push(
      fc.record({
        kind: fc.constant('refer-async' as const),
        person,
        wrong: fc.boolean(),
        id: fc.constantFrom('A-1', 'R-1'),
      }),
      fc.record({
        kind: fc.constant('read' as const),
        type: fc.constant('_async'),
        k,
        whose,
        suffix: fc.constant(''),
        query: fc.constant(''),
      }),
    );
  }
  if (role === 'sp') steps.push(operation);
  if (role === 'team') {
    steps.push(
      fc.record({
        kind: fc.constant('meeting-list' as const),
        form: fc.constantFrom('json' as const, 'fhir' as const),
        since: fc.constantFrom('2000-01-01T00:00:00Z', '2999-01-01T00:00:00Z', 'yesterday'),
      }),
      fc.record({
        kind: fc.constant('search' as const),
        type: fc.constantFrom('CarePlan', 'Goal', 'CareTeam', 'Consent', 'Task', 'Patient'),
        query: fc.constantFrom(
          '',
          '_include=CarePlan:goal&_include=CarePlan:care-team&_include=CarePlan:subject',
          '_revinclude=Provenance:target',
          'status=active',
          '_total=accurate',
        ),
      }),
    );
  }
  if (role === 'auditor') {
    steps.push(
      fc.record({
        kind: fc.constant('search' as const),
        type: fc.constant('AuditEvent'),
        query: auditQuery(),
      }),
      fc.record({
        kind: fc.constant('read' as const),
        type: fc.constant('AuditEvent'),
        k,
        whose,
        suffix: fc.constant(''),
        query: fc.constant(''),
      }),
    );
  }
  if (role === 'directory') {
    steps.push(
      fc.record({
        kind: fc.constant('search' as const),
        type: fc.constantFrom(...DIRECTORY_TYPES),
        query: directoryQuery(),
      }),
      fc.record({
        kind: fc.constant('register' as const),
        type: fc.constantFrom('Organization' as const, 'HealthcareService' as const, 'Location' as const),
        code: fc.constantFrom('DIR01', 'DIR02', 'HSP01'),
      }),
    );
  }
  return fc.oneof(...steps);
}

/** A fixed id no store holds: what the observer may try in place of another's. */
const unknownId = (type: string, k: number) =>
  `ffffffff-ffff-4fff-bfff-${(TYPES.indexOf(type as (typeof TYPES)[number]) * 10 + k).toString().padStart(12, '0')}`;

/**
 * The id a step names in a world: the k-th of the type the observer has seen, or (for `others`)
 * the k-th another organisation's answers showed; a fixed unknown id where there is none.
 */
export function idFor(
  world: World,
  observer: ClientName,
  type: string,
  k: number,
  whose: 'own' | 'others',
): string {
  const clients: ClientName[] =
    whose === 'own' ? [observer] : [CLIENT.otherGp, CLIENT.otherSp, CLIENT.otherAudit, CLIENT.operator];
  const ids = clients
    .flatMap((c) => world.seen.get(c) ?? [])
    .filter((reference) => reference.startsWith(`${type}/`))
    .map((reference) => reference.slice(type.length + 1));
  const own =
    whose === 'own' ? ids : ids.filter((id) => !(world.seen.get(observer) ?? []).includes(`${type}/${id}`));
  return own[k] ?? unknownId(type, k);
}

const fhirPost = (path: string, body: unknown): Request => ({
  method: 'POST',
  path,
  headers: { 'content-type': 'application/fhir+json' },
  body,
});

/** A directory entry as its keepers register it (an Organization by ODS code, its service, a place). */
function directoryEntry(type: 'Organization' | 'HealthcareService' | 'Location', code: string): object {
  if (type === 'Organization')
    return {
      resourceType: 'Organization',
      active: true,
      name: `Directory entry ${code}`,
      identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: code }],
    };
  if (type === 'Location')
    return { resourceType: 'Location', name: `Place ${code}`, position: { latitude: 51.5, longitude: -0.1 } };
  return { resourceType: 'HealthcareService', active: true, name: `Service ${code}` };
}

/** The request a step is in this world, as the observer sends it. */
export function requestFor(world: World, role: Role, observer: ClientName, step: Step): Request {
  const person = (i: number, wrong: boolean): Person => {
    const p = PEOPLE[i] as Person;
    return wrong ? otherDetails(p) : p;
  };
  switch (step.kind) {
    case 'refer':
      return fhirPost(
        '/fhir',
        referralBundle({
          sender: 'B99901',
          receiver: step.receiver,
          person: person(step.person, step.wrong),
          id: step.id,
        }),
      );
    case 'refer-json':
      return jsonReferral({ receiver: 'SPX01', person: person(step.person, step.wrong), id: step.id });
    case 'refer-named':
      return namedPersonReferral({
        nhs: (PEOPLE[step.person] as Person).nhs,
        id: step.id,
        receiver: 'SPX01',
      });
    case 'refer-async':
      return {
        ...fhirPost(
          '/fhir',
          referralBundle({
            sender: 'B99901',
            receiver: 'SPX01',
            person: person(step.person, step.wrong),
            id: step.id,
          }),
        ),
        headers: { 'content-type': 'application/fhir+json', prefer: 'respond-async' },
      };
    case 'register':
      return fhirPost(`/fhir/${step.type}`, directoryEntry(step.type, step.code));
    case 'read': {
      const id = idFor(world, observer, step.type, step.k, step.whose);
      const suffix =
        step.suffix === '/$social-prescribing-summary' && step.type !== 'Patient' ? '' : step.suffix;
      return { path: `/fhir/${step.type}/${id}${suffix}${step.query}` };
    }
    case 'search':
      return { path: `/fhir/${step.type}${step.query ? `?${step.query}` : ''}` };
    case 'meeting-list': {
      const since = encodeURIComponent(step.since);
      return {
        path:
          step.form === 'json'
            ? `/care-team/meeting-list?since=${since}`
            : `/fhir/CarePlan/$meeting-list?since=${since}`,
      };
    }
    case 'operation': {
      const id = idFor(world, observer, 'ServiceRequest', step.k, step.whose);
      if (step.op === '$outcomes') {
        const plan = idFor(world, observer, 'CarePlan', step.k, step.whose);
        return { path: `/fhir/CarePlan/${plan}/$outcomes` };
      }
      const body =
        step.op === 'care-plan'
          ? {
              status: 'active',
              title: 'Plan',
              period: { start: '2026-11-19' },
              author: { name: 'A link worker' },
              activities: [{ category: 'physical-activity', description: 'Walks', status: 'scheduled' }],
            }
          : step.op === 'outcomes'
            ? {
                measure: 'ons4-personal-wellbeing',
                answers: { 'life-satisfaction': 5, worthwhile: 5, happiness: 5, anxiety: 5 },
                authored: '2026-11-19T10:00:00Z',
              }
            : {};
      return {
        method: 'POST',
        path: `/referrals/${id}/${step.op}`,
        headers: { 'content-type': 'application/json' },
        body,
      };
    }
  }
  void role;
}
