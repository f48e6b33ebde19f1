import type { ResourceType } from '@medplum/fhirtypes';
import { Hono } from 'hono';
import type { AuthMode } from '../auth/mode.ts';
import { OPEN_LOCAL_PRINCIPAL } from '../auth/principal.ts';
import { allows, type Permission } from '../auth/scopes.ts';
import { buildCapabilityStatement, type TypeInteraction } from '../fhir/capability-statement.ts';
import type { AppEnv } from '../http/env.ts';
import { sendFhir } from '../http/respond.ts';
import { SOFTWARE } from '../version.ts';
import type { FhirFeature } from './feature.ts';

/** The scope letter each interaction is checked against. */
const PERMISSION: Partial<Record<TypeInteraction, Permission>> = {
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  'history-type': 'r',
  'search-type': 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
};

/**
 * What no caller of this deployment can be granted is not declared: in the open local mode every
 * request is the one local principal, so what it may not do (read AuditEvents) answers 403 always.
 */
function grantedIn(auth: AuthMode) {
  if (auth.kind !== 'open') return undefined;
  return (type: ResourceType, interaction: TypeInteraction) => {
    const permission = PERMISSION[interaction];
    return permission === undefined || allows(OPEN_LOCAL_PRINCIPAL.scopes, type, permission);
  };
}

/** `GET /metadata` (and `/fhir/metadata`): the CapabilityStatement of the routes actually mounted. */
export function metadataRoutes(
  features: readonly FhirFeature[],
  clock: () => Date,
  auth: AuthMode,
): Hono<AppEnv> {
  const capabilities = features.flatMap((f) => f.capabilities);
  const systemInteractions = [...new Set(features.flatMap((f) => f.systemInteractions ?? []))];
  const granted = grantedIn(auth);
  const handler = new Hono<AppEnv>().get('/metadata', (c) =>
    sendFhir(
      c,
      buildCapabilityStatement({
        baseUrl: c.get('baseUrl'),
        software: SOFTWARE,
        capabilities,
        systemInteractions,
        date: clock(),
        ...(auth.kind === 'open' ? {} : { tokenUrl: `${c.get('baseUrl')}/oauth2/token` }),
        ...(granted ? { granted } : {}),
      }),
    ),
  );
  return new Hono<AppEnv>().route('/', handler).route('/fhir', handler);
}
