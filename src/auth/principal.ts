import type { Organization, Reference } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcomes.ts';
import { typesOfClass } from '../fhir/resource-types.ts';
import { SYSTEM } from '../fhir/systems.ts';
import { allows, type Permission, type Scope } from './scopes.ts';

/** Who is asking: the authenticated client, the organisation it acts for, and what it was granted. */
export interface Principal {
  clientId: string;
  /**
   * ODS code of the client's organisation. Undefined only in the open local mode of `npm start`
   * (no clients registered), where every resource is visible.
   */
  organization: string | undefined;
  scopes: readonly Scope[];
  /**
   * Registered as the deployment's operator: reads the whole audit trail (its scopes still name
   * what it may read). Other organisations read only their own events.
   */
  operator?: boolean;
}

/** What a use case needs to know about the request it serves. */
export interface RequestContext {
  requestId: string;
  principal: Principal;
  /** `Type/id` of every stored resource the request read or wrote, for its audit record. */
  touched: string[];
  /**
   * The Consents (`Consent/<id>`) what the request disclosed rests on, where the caller saw a
   * person's care plan as a member of their care team; named in its audit record.
   */
  consents?: string[];
}

const EVERYTHING = new Set<Permission>(['c', 'r', 'u', 'd', 's']);

/**
 * The principal of `npm start` with no registered clients: everything, for trying the service
 * locally (the directory and subscriptions named type by type, as an operator's scopes would
 * name them).
 */
export const OPEN_LOCAL_PRINCIPAL: Principal = {
  clientId: 'open-local-mode',
  organization: undefined,
  scopes: [
    { type: '*', permissions: EVERYTHING },
    ...[...typesOfClass('directory'), ...typesOfClass('settings')].map((type) => ({
      type,
      permissions: EVERYTHING,
    })),
  ],
};

const NAMES: Record<Permission, string> = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };

/** 403 unless the principal's scopes grant the interaction on the type. */
export function authorize(principal: Principal, type: string, permission: Permission): void {
  if (allows(principal.scopes, type, permission)) return;
  // The open local mode has no token to name: what it withholds, it withholds from every request.
  const diagnostics =
    principal === OPEN_LOCAL_PRINCIPAL
      ? `The open local mode does not grant ${NAMES[permission]} on ${type}; register API clients to grant it to one`
      : `The access token does not grant ${NAMES[permission]} on ${type} (scope system/${type}.${permission})`;
  throw new FhirError('forbidden', [{ code: 'forbidden', diagnostics }]);
}

/** Who made a change, for its Provenance: the client's organisation (by ODS code), named by client. */
export function agentOf(ctx: RequestContext): Reference<Organization> {
  const organization = ctx.principal.organization;
  return organization
    ? { identifier: { system: SYSTEM.odsOrganization, value: organization }, display: ctx.principal.clientId }
    : { display: ctx.principal.clientId };
}
