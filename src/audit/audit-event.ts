import type { AuditEvent } from '@medplum/fhirtypes';
import type { RequestContext } from '../auth/principal.ts';
import { withAccess } from '../auth/tenancy.ts';
import { OWN_SYSTEM, SYSTEM } from '../fhir/systems.ts';

export type RestInteraction =
  | 'read'
  | 'vread'
  | 'history-instance'
  | 'search-type'
  | 'create'
  | 'update'
  | 'delete'
  | 'transaction'
  | 'operation';

const ACTIONS: Record<RestInteraction, AuditEvent['action']> = {
  read: 'R',
  vread: 'R',
  'history-instance': 'R',
  'search-type': 'E',
  create: 'C',
  update: 'U',
  delete: 'D',
  transaction: 'C',
  operation: 'E',
};

export interface AuditFacts {
  ctx: RequestContext;
  interaction: RestInteraction;
  /** The resource type the request addressed, when it addressed one. */
  resourceType?: string;
  status: number;
  recorded: Date;
}

/**
 * One AuditEvent for one request: who (the client, and its organisation), what (interaction,
 * type, and the `Type/id` of every resource read or written), when, the outcome and the request
 * id. References only: never names, NHS numbers or any other content of the resources.
 */
export function toAuditEvent(facts: AuditFacts): AuditEvent {
  const { ctx, status } = facts;
  const agentOrganization = ctx.principal.organization;
  // An organisation reads the events of its own clients' requests (the operator reads them all).
  return withAccess<AuditEvent>(
    {
      resourceType: 'AuditEvent',
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
        code: 'rest',
        display: 'RESTful Operation',
      },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: facts.interaction }],
      action: ACTIONS[facts.interaction],
      recorded: facts.recorded.toISOString(),
      outcome: status < 400 ? '0' : status < 500 ? '4' : '8',
      outcomeDesc: `HTTP ${status}`,
      agent: [
        {
          type: {
            coding: [
              {
                system: 'http://dicom.nema.org/resources/ontology/DCM',
                code: '110150',
                display: 'Application',
              },
            ],
          },
          who: { identifier: { system: OWN_SYSTEM.client, value: ctx.principal.clientId } },
          requestor: true,
        },
        ...(agentOrganization
          ? [
              {
                who: { identifier: { system: SYSTEM.odsOrganization, value: agentOrganization } },
                requestor: false,
              },
            ]
          : []),
      ],
      source: { observer: { display: 'Social prescribing FHIR facade' } },
      entity: [
        {
          what: { identifier: { system: OWN_SYSTEM.requestId, value: ctx.requestId } },
          type: {
            system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
            code: '4',
            display: 'Other',
          },
        },
        // A search is recorded by its type only: its parameters may hold an NHS number or a name.
        ...(facts.resourceType && facts.interaction === 'search-type'
          ? [
              {
                type: { system: 'http://hl7.org/fhir/resource-types', code: facts.resourceType },
                role: {
                  system: 'http://terminology.hl7.org/CodeSystem/object-role',
                  code: '24',
                  display: 'Query',
                },
              },
            ]
          : []),
        ...[...new Set(ctx.touched)].map((reference) => ({ what: { reference } })),
        // What a disclosure to a care team's organisation rests on: the person's consent.
        ...[...new Set(ctx.consents ?? [])].map((reference) => ({
          what: { reference },
          role: {
            system: 'http://terminology.hl7.org/CodeSystem/object-role',
            code: '13',
            display: 'Security Resource',
          },
        })),
      ],
    },
    agentOrganization ? [agentOrganization] : [],
  );
}
