import type { Resource } from '@medplum/fhirtypes';
import type { Handler, Hono } from 'hono';
import type { RequestContext } from '../auth/principal.ts';
import type { ResourceCapability } from '../fhir/capability-statement.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import type { AppEnv } from '../http/env.ts';
import { sendResource } from '../http/respond.ts';

/** A group of FHIR routes and the capabilities they add to the CapabilityStatement. */
export interface FhirFeature {
  routes: Hono<AppEnv>;
  capabilities: readonly ResourceCapability[];
  /** Whole-system interactions the routes serve, e.g. `transaction` on `POST /fhir`. */
  systemInteractions?: readonly ('transaction' | 'batch' | 'search-system' | 'history-system')[];
}

/**
 * A versioned update route (`PUT`/`PATCH /{type}/{id}` with `If-Match`): the use case gets the
 * caller, the id, the body and the version; the answer is the updated resource with its ETag.
 */
export function updateRoute(
  update: (ctx: RequestContext, id: string, body: unknown, ifMatch: string | undefined) => Promise<Resource>,
): Handler<AppEnv> {
  return async (c) => {
    const resource = await update(
      c.get('ctx'),
      c.req.param('id') as string,
      c.get('body'),
      c.req.header('if-match'),
    );
    return sendResource(c, toPublicResource(resource));
  };
}
