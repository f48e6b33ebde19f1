import { Hono } from 'hono';
import { buildCapabilityStatement, type ResourceCapability } from '../fhir/capability-statement.ts';
import type { AppEnv } from '../http/env.ts';
import { sendFhir } from '../http/respond.ts';
import { SOFTWARE } from '../version.ts';

/** `GET /metadata` (and `/fhir/metadata`): the CapabilityStatement of the routes actually mounted. */
export function metadataRoutes(capabilities: readonly ResourceCapability[], clock: () => Date): Hono<AppEnv> {
  const handler = new Hono<AppEnv>().get('/metadata', (c) =>
    sendFhir(
      c,
      buildCapabilityStatement({
        baseUrl: c.get('baseUrl'),
        software: SOFTWARE,
        capabilities,
        date: clock(),
      }),
    ),
  );
  return new Hono<AppEnv>().route('/', handler).route('/fhir', handler);
}
