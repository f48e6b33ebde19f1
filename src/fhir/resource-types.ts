import type { ResourceType } from '@medplum/fhirtypes';

/**
 * Resource types this service stores and serves. The slim definitions are built for exactly these
 * (plus the datatypes they reach), so adding a type here means rebuilding the definitions.
 */
export const SERVED_RESOURCE_TYPES = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'HealthcareService',
  'Location',
  'ServiceRequest',
  'Task',
  'CarePlan',
  'Goal',
  'CareTeam',
  'Consent',
  'Condition',
  'Observation',
  'Questionnaire',
  'QuestionnaireResponse',
  'Provenance',
  'AuditEvent',
  'RelatedPerson',
] as const satisfies readonly ResourceType[];

export type ServedResourceType = (typeof SERVED_RESOURCE_TYPES)[number];

/**
 * What each served type holds, which decides who sees it and what a wildcard scope grants:
 * - `personal`: a person's data, seen only by the organisations party to it (access labels);
 * - `directory`: organisations, services, places, people at work and published forms: read by
 *   every client, written only with a scope naming the type;
 * - `operator`: the audit trail: read with a scope naming the type, by an organisation for its own
 *   events, whole only by an operator's registration;
 * - `contract`: the definitions the service publishes (profiles, value sets, code systems,
 *   operations): read by anyone, written by no one;
 * - `settings`: what an organisation sets up for itself (its subscriptions): seen only by it,
 *   through its label, and only with a scope naming the type (a wildcard grants nothing of it).
 * One table, typed over every served type: a type added above without a class does not compile,
 * and a name not here has no class, which every rule reads as the most closed.
 */
export type DataClass = 'personal' | 'directory' | 'operator' | 'contract' | 'settings';

/** Types served from the service's own published definitions, not from the store. */
export type ContractResourceType = 'StructureDefinition' | 'ValueSet' | 'CodeSystem' | 'OperationDefinition';

/** Types an organisation keeps for itself, served by their own routes rather than the read surface. */
export type SettingsResourceType = 'Subscription';

const DATA_CLASS: Readonly<
  Record<ServedResourceType | ContractResourceType | SettingsResourceType, DataClass>
> = {
  Patient: 'personal',
  RelatedPerson: 'personal',
  ServiceRequest: 'personal',
  Task: 'personal',
  CarePlan: 'personal',
  Goal: 'personal',
  CareTeam: 'personal',
  Consent: 'personal',
  Condition: 'personal',
  Observation: 'personal',
  QuestionnaireResponse: 'personal',
  Provenance: 'personal',
  Practitioner: 'directory',
  PractitionerRole: 'directory',
  Organization: 'directory',
  HealthcareService: 'directory',
  Location: 'directory',
  Questionnaire: 'directory',
  AuditEvent: 'operator',
  StructureDefinition: 'contract',
  ValueSet: 'contract',
  CodeSystem: 'contract',
  OperationDefinition: 'contract',
  Subscription: 'settings',
};

/** The types of one class. */
export function typesOfClass(kind: DataClass): string[] {
  return Object.entries(DATA_CLASS).flatMap(([type, k]) => (k === kind ? [type] : []));
}

/** The class of a type, or undefined for a type this service does not serve. */
export function dataClassOf(type: string): DataClass | undefined {
  return Object.hasOwn(DATA_CLASS, type)
    ? DATA_CLASS[type as ServedResourceType | ContractResourceType | SettingsResourceType]
    : undefined;
}

/**
 * Types readable through the pass-through read surface (`GET /fhir/{type}/{id}` and search).
 * AuditEvent among them, for clients granted it (an administrative scope).
 */
export const READABLE_RESOURCE_TYPES: readonly ServedResourceType[] = SERVED_RESOURCE_TYPES;

export function isReadableResourceType(type: string): type is ServedResourceType {
  return (READABLE_RESOURCE_TYPES as readonly string[]).includes(type);
}
