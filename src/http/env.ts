import type { RequestContext } from '../auth/principal.ts';

/** Per-request values the middleware puts on the Hono context. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** The media type responses are sent as, chosen from `_format` and `Accept`. */
    mediaType: MediaType;
    /** The facade's own base URL: the configured public one, or the request's origin. */
    baseUrl: string;
    /** The parsed JSON body of a write request. */
    body: unknown;
    /** The same body as received, for request fingerprints. */
    rawBody: string;
    /** Who is asking (set by authentication on FHIR and plain-JSON routes), with the request id. */
    ctx: RequestContext;
  };
}

export type MediaType = 'application/fhir+json' | 'application/json';
