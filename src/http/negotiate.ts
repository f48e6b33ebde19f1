import type { MiddlewareHandler } from 'hono';
import { Failures } from '../fhir/outcomes.ts';
import type { AppEnv, MediaType } from './env.ts';

const FORMAT_ALIASES: Record<string, MediaType> = {
  json: 'application/fhir+json',
  'application/fhir+json': 'application/fhir+json',
  'application/json+fhir': 'application/fhir+json',
  'application/json': 'application/json',
  // A `+` typed into a query string arrives as a space; clients very often send it unencoded.
  'application/fhir json': 'application/fhir+json',
  'application/json fhir': 'application/fhir+json',
};

/**
 * Chooses the response media type. `_format` wins over `Accept`
 * (https://hl7.org/fhir/R4/http.html#mime-type); anything that can only be answered in XML,
 * Turtle or HTML gets 406.
 */
export function negotiateFormat(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const format = c.req.query('_format');
    c.set('mediaType', format === undefined ? fromAccept(c.req.header('accept')) : fromFormat(format));
    await next();
  };
}

function fromFormat(format: string): MediaType {
  const mediaType = FORMAT_ALIASES[format.trim().toLowerCase().split(';')[0]?.trim() ?? ''];
  if (!mediaType) throw Failures.notAcceptable();
  return mediaType;
}

function fromAccept(accept: string | undefined): MediaType {
  if (!accept) return 'application/fhir+json';
  const ranges = accept
    .toLowerCase()
    .split(',')
    .map((part) => part.split(';'))
    .filter((params) => !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p)))
    .map((params) => params[0]?.trim() ?? '');
  if (ranges.some((r) => r === 'application/fhir+json' || r === 'application/json+fhir')) {
    return 'application/fhir+json';
  }
  if (ranges.includes('application/json')) return 'application/json';
  if (ranges.some((r) => r === '*/*' || r === 'application/*')) return 'application/fhir+json';
  throw Failures.notAcceptable();
}
