import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { every } from 'hono/combine';
import { Failures, FhirError } from '../fhir/outcomes.ts';
import { measureBudget } from '../fhir/shape.ts';
import { COSTLY_BYTES, COSTLY_ELEMENTS, type CostlyGate } from './costly-gate.ts';
import type { AppEnv } from './env.ts';
import { jsonBodyIssues } from './json-guard.ts';
import { allowsR4 } from './negotiate.ts';

const JSON_MEDIA_TYPES = [
  'application/fhir+json',
  'application/json',
  'application/json+fhir',
  'application/json-patch+json',
];

/**
 * For requests that carry a resource: 415 unless the body is FHIR JSON or JSON, 413 past the
 * size limit (counted on the stream, not trusted from Content-Length), 400 when it does not
 * parse, and 413 for a FHIR resource holding more than any sender needs (src/fhir/shape.ts:
 * array lengths, extension depth, element count). The parsed body is left on the context as `body`.
 * A costly body (src/http/costly-gate.ts) is handled when the gate lets it through.
 */
export function jsonBody(maxBytes: number, gate: CostlyGate): MiddlewareHandler<AppEnv> {
  return every(
    requireJsonMediaType(),
    bodyLimit({
      maxSize: maxBytes,
      onError: () => {
        throw Failures.payloadTooLarge(maxBytes);
      },
    }),
    parseJson(gate),
  );
}

/** A request that says it carries nothing: no length, or a length of 0, and no chunked body. */
function hasNoBody(headers: { header(name: string): string | undefined }): boolean {
  const length = headers.header('content-length');
  return !headers.header('transfer-encoding') && (length === undefined ? true : Number(length) === 0);
}

function requireJsonMediaType(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // No body, no media type to check: operations whose body is optional take none.
    if (hasNoBody(c.req) && !c.req.header('content-type')) return next();
    const [type, ...params] = (c.req.header('content-type') ?? '').toLowerCase().split(';');
    const mediaType = type?.trim();
    if (!mediaType || !JSON_MEDIA_TYPES.includes(mediaType)) throw Failures.unsupportedMediaType();
    // A body of another FHIR version is not one this service reads (R4 only).
    if (!allowsR4(params)) throw Failures.unsupportedMediaType();
    await next();
  };
}

function parseJson(gate: CostlyGate): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const text = await c.req.text();
    // An empty body is no body, whatever its media type says: operations whose body is optional take it.
    if (text === '') {
      c.set('rawBody', '');
      return next();
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // The parser's message quotes the input, so it is never passed on.
      throw Failures.invalidJson();
    }
    const issues = jsonBodyIssues(body);
    if (issues.length) throw new FhirError('malformed', issues);
    // A feed to import is not a resource: its records are held to these limits one by one.
    const resource = typeof (body as { resourceType?: unknown } | null)?.resourceType === 'string';
    const budget = resource ? measureBudget(body) : undefined;
    if (budget?.issues.length) throw new FhirError('too-large', budget.issues);
    c.set('body', body);
    c.set('rawBody', text);
    const costly = budget ? budget.elements > COSTLY_ELEMENTS : text.length > COSTLY_BYTES;
    if (costly) await gate.run(next);
    else await next();
  };
}
