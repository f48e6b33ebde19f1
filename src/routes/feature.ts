import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Context, Handler, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { RequestContext } from '../auth/principal.ts';
import { mayShowInAnswer } from '../auth/tenancy.ts';
import type { ResourceCapability } from '../fhir/capability-statement.ts';
import { operationOutcome } from '../fhir/outcomes.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import type { AppEnv } from '../http/env.ts';
import { sendFhir, sendResource, versionHeaders } from '../http/respond.ts';
import { parsePrefer, versionedLocation } from '../referrals/responses.ts';

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
    return sendUpdated(c, resource);
  };
}

/**
 * The answer to an update or patch, in the form `Prefer: return=` asks for, as a create's is
 * (https://hl7.org/fhir/R4/http.html#ops): no body, an OperationOutcome, or the resource.
 */
function sendUpdated(c: Context<AppEnv>, resource: Resource): Response {
  const prefer = parsePrefer(c.req.header('prefer'));
  if (prefer === 'minimal') return c.body(null, 200, versionHeaders(resource));
  if (prefer === 'OperationOutcome') {
    const said = `Updated ${resource.resourceType}/${resource.id} to version ${resource.meta?.versionId}`;
    return sendFhir(
      c,
      operationOutcome([{ severity: 'information', code: 'informational', diagnostics: said }]),
      {
        headers: versionHeaders(resource),
      },
    );
  }
  return sendWritten(c, resource);
}

/**
 * The answer to a write: the resource, with its ETag and Last-Modified, where the caller may read
 * it; otherwise an OperationOutcome saying it was stored, with the same status and headers, so a
 * write never shows more than a read would.
 */
export function sendWritten(
  c: Context<AppEnv>,
  /** As stored, access labels included: they decide whether it is shown. */
  resource: Resource,
  options: { status?: ContentfulStatusCode; headers?: Record<string, string> } = {},
): Response {
  if (mayShowInAnswer(c.get('ctx').principal, resource)) {
    return sendResource(c, toPublicResource(resource), options);
  }
  return sendFhir(c, storedButNotShown(resource), {
    status: options.status ?? 200,
    headers: {
      ...options.headers,
      ...(resource.meta?.versionId ? { ETag: `W/"${resource.meta.versionId}"` } : {}),
    },
  });
}

/** What an answer says in place of a stored resource the caller may not read. */
export function storedButNotShown(resource: Resource): OperationOutcome {
  return operationOutcome([
    {
      severity: 'information',
      code: 'suppressed',
      diagnostics: `Stored as ${resource.resourceType}/${resource.id}; the access token does not grant reading it, so it is not shown`,
    },
  ]);
}

/**
 * What a create did: stored a new resource, found the one its `If-None-Exist` matched, or found
 * the same content already stored (a retried referral). Only the first writes anything.
 */
export type CreateOutcome = 'created' | 'matched' | 'unchanged';

const CREATE_DIAGNOSTICS: Record<CreateOutcome, (ref: string) => string> = {
  created: (ref) => `Stored as ${ref}`,
  matched: (ref) => `The If-None-Exist criteria matched ${ref}; nothing was stored`,
  unchanged: (ref) => `Already stored as ${ref}; nothing was stored`,
};

/**
 * The answer to a create: 201 for a new resource, 200 otherwise, with `Location` and the version
 * headers, in the form `Prefer` asks for (https://hl7.org/fhir/R4/http.html#ops): no body, an
 * OperationOutcome saying what happened, or the resource where the caller may read it.
 */
export function sendCreated(
  c: Context<AppEnv>,
  /** As stored, access labels included. */
  resource: Resource,
  outcome: CreateOutcome,
  note?: string,
): Response {
  const status = outcome === 'created' ? 201 : 200;
  const headers = {
    Location: `${c.get('baseUrl')}/fhir/${versionedLocation(resource)}`,
    ...versionHeaders(resource),
  };
  const prefer = parsePrefer(c.req.header('prefer'));
  if (prefer === 'minimal') return c.body(null, status, headers);
  if (prefer === 'OperationOutcome') {
    const said = CREATE_DIAGNOSTICS[outcome](`${resource.resourceType}/${resource.id}`);
    const issues = [said, ...(note ? [note] : [])].map((diagnostics) => ({
      severity: 'information' as const,
      code: 'informational' as const,
      diagnostics,
    }));
    return sendFhir(c, operationOutcome(issues), { status, headers });
  }
  return sendWritten(c, resource, { status, headers });
}
