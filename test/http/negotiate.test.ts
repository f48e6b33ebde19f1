import { Context } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv, MediaType } from '../../src/http/env.ts';
import { negotiateFormat } from '../../src/http/negotiate.ts';

/**
 * Runs the middleware on a bare request: the media type it chose, or the error it raised, and
 * whether the request went on to the handler.
 */
async function negotiate(
  query: string,
  accept?: string,
): Promise<{ mediaType?: MediaType; error?: unknown; reachedHandler: boolean }> {
  const headers = accept === undefined ? undefined : { accept };
  const c = new Context<AppEnv>(new Request(`http://facade.test/fhir/metadata${query}`, { headers }));
  let reachedHandler = false;
  try {
    await negotiateFormat()(c, async () => {
      reachedHandler = true;
    });
  } catch (error) {
    return { error, reachedHandler };
  }
  return { mediaType: c.get('mediaType'), reachedHandler };
}

const viaAccept = async (accept: string | undefined) => (await negotiate('', accept)).mediaType;
const viaFormat = async (format: string, accept?: string) =>
  (await negotiate(`?_format=${encodeURIComponent(format)}`, accept)).mediaType;

/** What a 406 carries, whatever status mapping the HTTP layer applies to it. */
const NOT_ACCEPTABLE = {
  name: 'FhirError',
  outcome: {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: 'not-supported',
        diagnostics: 'This server produces application/fhir+json or application/json only',
      },
    ],
  },
};

async function expectNotAcceptable(query: string, accept?: string): Promise<void> {
  const { mediaType, error, reachedHandler } = await negotiate(query, accept);
  expect(mediaType).toBeUndefined();
  expect(error).toMatchObject(NOT_ACCEPTABLE);
  // A refused request must never reach a handler that would answer it anyway.
  expect(reachedHandler).toBe(false);
}

describe('negotiateFormat: Accept', () => {
  it('answers in FHIR JSON without an Accept header', async () => {
    const result = await negotiate('');
    expect(result).toEqual({ mediaType: 'application/fhir+json', reachedHandler: true });
  });

  it('answers in FHIR JSON for an empty Accept header', async () => {
    expect(await viaAccept('')).toBe('application/fhir+json');
  });

  it.each([
    ['application/fhir+json', 'application/fhir+json'],
    ['application/json+fhir', 'application/fhir+json'], // the DSTU2 name
    ['application/json', 'application/json'],
    ['application/json; charset=utf-8', 'application/json'],
    ['application/fhir+json; fhirVersion=4.0', 'application/fhir+json'],
    ['  application/json  ', 'application/json'],
    ['Application/FHIR+JSON', 'application/fhir+json'],
    ['APPLICATION/JSON', 'application/json'],
  ] as const)('maps %j to %s', async (accept, expected) => {
    expect(await viaAccept(accept)).toBe(expected);
  });

  it.each([
    ['application/json, application/fhir+json', 'application/fhir+json'],
    ['application/fhir+json, application/json', 'application/fhir+json'],
    ['application/json, application/json+fhir', 'application/fhir+json'],
    ['text/html, application/json', 'application/json'],
    ['application/xml, application/json, */*', 'application/json'],
  ] as const)('prefers FHIR JSON, then plain JSON, in %j', async (accept, expected) => {
    expect(await viaAccept(accept)).toBe(expected);
  });

  it.each([
    '*/*',
    'application/*',
    'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', // a browser
    'application/fhir+xml, */*;q=0.1',
    'application/xml, application/*',
  ])('answers a wildcard in %j with FHIR JSON', async (accept) => {
    expect(await viaAccept(accept)).toBe('application/fhir+json');
  });

  it.each([
    'application/fhir+xml',
    'application/xml',
    'application/xml+fhir',
    'text/xml',
    'text/turtle',
    'application/x-turtle',
    'text/html',
    'application/fhir+xml, text/turtle, text/html',
    'text/*',
    'json',
    'application/fhir+jsonx',
    'application/jsonp',
  ])('refuses %j as not acceptable', async (accept) => {
    await expectNotAcceptable('', accept);
  });
});

describe('negotiateFormat: q-values', () => {
  it.each(['q=0', 'q=0.', 'q=0.0', 'q=0.000', 'Q=0', ' q=0 '])('treats %j as "not this type"', async (q) => {
    expect(await viaAccept(`application/fhir+json;${q}, application/json`)).toBe('application/json');
  });

  it('refuses when every acceptable type is ruled out with q=0', async () => {
    await expectNotAcceptable('', 'application/fhir+json;q=0, application/json;q=0, application/xml');
    await expectNotAcceptable('', '*/*;q=0');
    await expectNotAcceptable('', 'application/json;q=0.0, application/*;q=0');
  });

  it.each(['q=0.01', 'q=0.5', 'q=1', 'q=1.0'])('keeps a type weighted %s', async (q) => {
    expect(await viaAccept(`application/json;${q}`)).toBe('application/json');
  });

  it('does not rank by weight: FHIR JSON wins whenever it is acceptable at all', async () => {
    expect(await viaAccept('application/json;q=1, application/fhir+json;q=0.1')).toBe(
      'application/fhir+json',
    );
  });

  it('rules out only the range that carries q=0', async () => {
    expect(await viaAccept('application/json;q=0, */*')).toBe('application/fhir+json');
  });
});

describe('negotiateFormat: _format', () => {
  it.each([
    ['json', 'application/fhir+json'],
    ['JSON', 'application/fhir+json'],
    [' json ', 'application/fhir+json'],
    ['application/fhir+json', 'application/fhir+json'],
    ['application/json+fhir', 'application/fhir+json'],
    ['application/json', 'application/json'],
    ['application/fhir+json; fhirVersion=4.0', 'application/fhir+json'],
    ['application/json;charset=utf-8', 'application/json'],
  ] as const)('maps _format=%j to %s', async (format, expected) => {
    expect(await viaFormat(format)).toBe(expected);
  });

  it.each([
    'xml',
    'application/fhir+xml',
    'application/xml',
    'text/xml',
    'ttl',
    'text/turtle',
    'html',
    'text/html',
    '*/*',
    'application/*',
    'jsonld',
    '',
  ])('refuses _format=%j as not acceptable', async (format) => {
    await expectNotAcceptable(`?_format=${encodeURIComponent(format)}`);
  });

  it('wins over Accept in either direction', async () => {
    expect(await viaFormat('json', 'application/json')).toBe('application/fhir+json');
    expect(await viaFormat('application/json', 'application/fhir+json')).toBe('application/json');
  });

  it('refuses an XML _format even when Accept would allow JSON', async () => {
    await expectNotAcceptable('?_format=xml', 'application/json');
    await expectNotAcceptable('?_format=xml', '*/*');
  });

  it('answers a JSON _format even when Accept asks only for XML', async () => {
    expect(await viaFormat('json', 'application/fhir+xml')).toBe('application/fhir+json');
  });

  it('counts an empty _format as given, not as absent', async () => {
    await expectNotAcceptable('?_format=', 'application/json');
  });
});
