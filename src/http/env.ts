import type { Context } from 'hono';
import type { RequestContext } from '../auth/principal.ts';

/** Per-request values the middleware puts on the Hono context. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** The media type responses are sent as, chosen from `_format` and `Accept`. */
    mediaType: MediaType;
    /**
     * The facade's own base URL: the configured public one, or the request's origin where no
     * clients are registered (tokens are never issued for a request's Host).
     */
    baseUrl: string;
    /** The parsed JSON body of a write request. */
    body: unknown;
    /** The same body as received, for request fingerprints. */
    rawBody: string;
    /** Who is asking (set by authentication on FHIR and plain-JSON routes), with the request id. */
    ctx: RequestContext;
    /** Set when the client's rate limit refused the request. */
    throttled: boolean;
  };
}

export type MediaType = 'application/fhir+json' | 'application/json';

/**
 * Where a request came from, as the platform knows it: the socket's peer on Node, the address
 * Cloudflare saw on Workers. Undefined where the platform gives none (an app called directly).
 */
export type CallerAddress = (c: Context<AppEnv>) => string | undefined;
