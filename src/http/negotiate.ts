import type { MiddlewareHandler } from 'hono';
import { Failures, FhirError } from '../fhir/outcomes.ts';
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
 * Turtle or HTML, or in another FHIR version than R4, gets 406.
 */
export function negotiateFormat(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const format = c.req.query('_format');
    c.set('mediaType', format === undefined ? fromAccept(c.req.header('accept')) : fromFormat(format));
    await next();
  };
}

/**
 * Whether a media type's parameters allow R4: a `fhirVersion` parameter
 * (https://hl7.org/fhir/R4/http.html#version-parameter) names 4.0, or there is none.
 */
export function allowsR4(params: readonly string[]): boolean {
  const version = params
    .map((p) => /^\s*fhirversion\s*=\s*"?([^"\s]*)"?\s*$/.exec(p)?.[1])
    .find((v) => v !== undefined);
  return version === undefined || version === '4.0' || version.startsWith('4.0.');
}

const otherVersion = () =>
  new FhirError('not-acceptable', [
    { code: 'not-supported', diagnostics: 'This server answers in FHIR R4 (fhirVersion=4.0) only' },
  ]);

function fromFormat(format: string): MediaType {
  const [type = '', ...params] = format.trim().toLowerCase().split(';');
  const mediaType = FORMAT_ALIASES[type.trim()];
  if (!mediaType) throw Failures.notAcceptable();
  if (!allowsR4(params)) throw otherVersion();
  return mediaType;
}

function fromAccept(accept: string | undefined): MediaType {
  if (!accept) return 'application/fhir+json';
  const acceptable = accept
    .toLowerCase()
    .split(',')
    .map((part) => part.split(';'))
    .filter((params) => !params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p)));
  // A range for another FHIR version is one this server cannot answer.
  const ranges = acceptable
    .filter((params) => allowsR4(params.slice(1)))
    .map((params) => params[0]?.trim() ?? '');
  if (ranges.length === 0 && acceptable.length > 0) throw otherVersion();
  if (ranges.some((r) => r === 'application/fhir+json' || r === 'application/json+fhir')) {
    return 'application/fhir+json';
  }
  if (ranges.includes('application/json')) return 'application/json';
  if (ranges.some((r) => r === '*/*' || r === 'application/*')) return 'application/fhir+json';
  throw Failures.notAcceptable();
}
