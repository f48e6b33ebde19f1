import type { MiddlewareHandler } from 'hono';
import { assertOnlyParams, RESPONSE_PARAMS } from '../fhir/search-values.ts';
import type { AppEnv } from './env.ts';

const WRITES = ['POST', 'PUT', 'PATCH'];

/** The query string of a request, as sent. */
export const queryOf = (url: string): URLSearchParams => new URL(url).searchParams;

/**
 * The query string of a FHIR write (a create, update, patch or transaction): only what shapes
 * the answer, as a write takes no parameters (https://hl7.org/fhir/R4/http.html). Searches by
 * POST and operations read their own parameters, so they are left to their routes, and a method
 * the path does not serve is left to be answered 405.
 */
export function writeQuery(serves: (method: string, path: string) => boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const last = c.req.path.replace(/\/$/, '').split('/').pop() ?? '';
    if (
      WRITES.includes(c.req.method) &&
      last !== '_search' &&
      !last.startsWith('$') &&
      serves(c.req.method, c.req.path)
    ) {
      assertOnlyParams(queryOf(c.req.url), RESPONSE_PARAMS, 'A write');
    }
    await next();
  };
}

/** The plain-JSON reads that take a parameter in the query: the meeting list's `since`. */
const PLAIN_QUERY_PARAMS: Readonly<Record<string, readonly string[]>> = {
  'GET /care-team/meeting-list': ['since'],
};

/**
 * The query string of the plain-JSON routes (`/referrals` and its operations): they take their
 * input in the body only, so any parameter is refused rather than ignored. A method the path does
 * not serve is left to be answered 405.
 */
export function plainQuery(serves: (method: string, path: string) => boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (serves(c.req.method, c.req.path)) {
      const own = PLAIN_QUERY_PARAMS[`${c.req.method} ${c.req.path}`] ?? [];
      assertOnlyParams(
        queryOf(c.req.url),
        [...RESPONSE_PARAMS, ...own],
        `${c.req.method} ${c.req.routePath}`,
      );
    }
    await next();
  };
}
