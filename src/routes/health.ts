import { Hono } from 'hono';
import type { AppEnv } from '../http/env.ts';
import type { FhirStore } from '../resources/ports.ts';
import { checkReadiness } from '../resources/readiness.ts';

/**
 * Liveness never touches Medplum; readiness proves an authenticated round trip to it and that it
 * runs transaction Bundles all or nothing.
 */
export function healthRoutes(store: FhirStore): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .get('/health', (c) => c.json({ status: 'pass' }))
    .get('/health/ready', async (c) => {
      await checkReadiness(store);
      return c.json({ status: 'pass', checks: { 'fhir-store': 'pass', 'fhir-transactions': 'pass' } });
    });
}
