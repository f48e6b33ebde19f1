import type { ResourceType } from '@medplum/fhirtypes';
import { Hono } from 'hono';
import type { AuthMode } from '../auth/mode.ts';
import { OPEN_LOCAL_PRINCIPAL } from '../auth/principal.ts';
import { allows, GRANULAR_SCOPES_REFUSED, PERMISSION_OF } from '../auth/scopes.ts';
import { buildCapabilityStatement, type TypeInteraction } from '../fhir/capability-statement.ts';
import { Failures, FhirError } from '../fhir/outcomes.ts';
import { assertOnlyParams, READ_PARAMS } from '../fhir/search-values.ts';
import { applySubset, parseSubset } from '../fhir/subset.ts';
import type { AppEnv } from '../http/env.ts';
import { queryOf } from '../http/query.ts';
import { sendFhir } from '../http/respond.ts';
import { SOFTWARE } from '../version.ts';
import type { FhirFeature } from './feature.ts';

/**
 * What no caller of this deployment can be granted is not declared: in the open local mode every
 * request is the one local principal, so what it may not do (read AuditEvents) answers 403 always.
 */
function grantedIn(auth: AuthMode) {
  if (auth.kind !== 'open') return undefined;
  return (type: ResourceType, interaction: TypeInteraction) => {
    const permission = PERMISSION_OF[interaction];
    return permission === undefined || allows(OPEN_LOCAL_PRINCIPAL.scopes, type, permission);
  };
}

/**
 * The capabilities interaction's own parameter (https://hl7.org/fhir/R4/http.html#capabilities):
 * the full statement is served; a TerminologyCapabilities or the normative part alone is not.
 */
function checkMode(params: URLSearchParams): void {
  const modes = params.getAll('mode');
  if (modes.length > 1) throw Failures.badRequest('mode is given once', ['mode']);
  const [mode] = modes;
  if (mode === undefined || mode === 'full') return;
  if (mode === 'normative' || mode === 'terminology') {
    throw new FhirError('malformed', [
      {
        code: 'not-supported',
        diagnostics: `mode=${mode} is not supported; mode=full is`,
        expression: ['mode'],
      },
    ]);
  }
  throw Failures.badRequest('mode is one of full, normative, terminology', ['mode']);
}

/** `GET /metadata` (and `/fhir/metadata`): the CapabilityStatement of the routes actually mounted. */
export function metadataRoutes(
  features: readonly FhirFeature[],
  clock: () => Date,
  auth: AuthMode,
  options: { cors?: boolean } = {},
): Hono<AppEnv> {
  const capabilities = features.flatMap((f) => f.capabilities);
  const systemInteractions = [...new Set(features.flatMap((f) => f.systemInteractions ?? []))];
  const granted = grantedIn(auth);
  const handler = new Hono<AppEnv>().get('/metadata', (c) => {
    const params = queryOf(c.req.url);
    assertOnlyParams(params, [...READ_PARAMS, 'mode'], 'The capabilities interaction');
    checkMode(params);
    const subset = parseSubset(params, false, 'CapabilityStatement');
    const statement = buildCapabilityStatement({
      baseUrl: c.get('baseUrl'),
      software: SOFTWARE,
      capabilities,
      systemInteractions,
      date: clock(),
      ...(auth.kind === 'open'
        ? {}
        : { tokenUrl: `${c.get('baseUrl')}/oauth2/token`, scopeNote: GRANULAR_SCOPES_REFUSED }),
      ...(granted ? { granted } : {}),
      ...(options.cors ? { cors: true } : {}),
    });
    return sendFhir(c, applySubset(statement, subset));
  });
  return new Hono<AppEnv>().route('/', handler).route('/fhir', handler);
}
