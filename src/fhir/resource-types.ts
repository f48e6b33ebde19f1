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
 * Types readable through the pass-through read surface (`GET /fhir/{type}/{id}` and search).
 * AuditEvent among them, for clients granted it (an administrative scope).
 */
export const READABLE_RESOURCE_TYPES: readonly ServedResourceType[] = SERVED_RESOURCE_TYPES;

export function isReadableResourceType(type: string): type is ServedResourceType {
  return (READABLE_RESOURCE_TYPES as readonly string[]).includes(type);
}
