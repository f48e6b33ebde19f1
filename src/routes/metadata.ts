import { Hono } from 'hono';
import type { AuthMode } from '../auth/mode.ts';
import { buildCapabilityStatement } from '../fhir/capability-statement.ts';
import type { AppEnv } from '../http/env.ts';
import { sendFhir } from '../http/respond.ts';
import { SOFTWARE } from '../version.ts';
import type { FhirFeature } from './feature.ts';

/** `GET /metadata` (and `/fhir/metadata`): the CapabilityStatement of the routes actually mounted. */
export function metadataRoutes(
  features: readonly FhirFeature[],
  clock: () => Date,
  auth: AuthMode,
): Hono<AppEnv> {
  const capabilities = features.flatMap((f) => f.capabilities);
  const systemInteractions = [...new Set(features.flatMap((f) => f.systemInteractions ?? []))];
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
      }),
    ),
  );
  return new Hono<AppEnv>().route('/', handler).route('/fhir', handler);
}
