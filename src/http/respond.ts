import type { Resource } from '@medplum/fhirtypes';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { AppEnv } from './env.ts';

export interface SendOptions {
  status?: ContentfulStatusCode;
  headers?: Record<string, string>;
}

/** Sends a FHIR resource in the negotiated JSON media type. */
export function sendFhir(c: Context<AppEnv>, body: Resource, options: SendOptions = {}): Response {
  const mediaType = c.get('mediaType') ?? 'application/fhir+json';
  // `_pretty=true` asks for indented JSON (https://hl7.org/fhir/R4/http.html#parameters).
  const pretty = c.req.query('_pretty') === 'true';
  return c.body(JSON.stringify(body, null, pretty ? 2 : undefined), options.status ?? 200, {
    ...options.headers,
    'Content-Type': `${mediaType}; charset=utf-8`,
  });
}

/** `W/"<versionId>"`, which R4 says an ETag SHALL be (https://hl7.org/fhir/R4/http.html#versioning). */
export function etagOf(resource: Resource): string | undefined {
  const versionId = resource.meta?.versionId;
  return versionId ? `W/"${versionId}"` : undefined;
}

/** Version headers for a single resource: ETag and Last-Modified. */
export function versionHeaders(resource: Resource): Record<string, string> {
  const headers: Record<string, string> = {};
  const etag = etagOf(resource);
  if (etag) headers.ETag = etag;
  const lastUpdated = resource.meta?.lastUpdated;
  if (lastUpdated) headers['Last-Modified'] = new Date(lastUpdated).toUTCString();
  return headers;
}

/**
 * Sends one resource with its version headers; answers 304 when the client already holds this
 * version (`If-None-Match`).
 */
export function sendResource(c: Context<AppEnv>, resource: Resource, options: SendOptions = {}): Response {
  const headers = { ...versionHeaders(resource), ...options.headers };
  if (c.req.method === 'GET' && isNotModified(c, headers)) {
    return c.body(null, 304, { ...(headers.ETag ? { ETag: headers.ETag } : {}) });
  }
  return sendFhir(c, resource, { ...options, headers });
}

/** An entity tag as weak comparison sees it (RFC 9110 section 8.8.3.2): `W/` aside. */
const opaque = (tag: string) => tag.trim().replace(/^W\//, '');

/**
 * Whether the caller already holds this version: `If-None-Match` is `*` (any current version:
 * RFC 9110 section 13.1.2) or lists its ETag, or (without `If-None-Match`, which wins)
 * `If-Modified-Since` is not before its last change, to the second.
 */
function isNotModified(c: Context<AppEnv>, headers: Record<string, string>): boolean {
  const ifNoneMatch = c.req.header('if-none-match');
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() === '*') return true;
    const etag = headers.ETag;
    return etag !== undefined && ifNoneMatch.split(',').some((tag) => opaque(tag) === opaque(etag));
  }
  const since = Date.parse(c.req.header('if-modified-since') ?? '');
  const modified = Date.parse(headers['Last-Modified'] ?? '');
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}
