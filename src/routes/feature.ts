import type { Hono } from 'hono';
import type { ResourceCapability } from '../fhir/capability-statement.ts';
import type { AppEnv } from '../http/env.ts';

/** A group of FHIR routes and the capabilities they add to the CapabilityStatement. */
export interface FhirFeature {
  routes: Hono<AppEnv>;
  capabilities: readonly ResourceCapability[];
  /** Whole-system interactions the routes serve, e.g. `transaction` on `POST /fhir`. */
  systemInteractions?: readonly ('transaction' | 'batch' | 'search-system' | 'history-system')[];
}
