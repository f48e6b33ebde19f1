import { describe, expect, it } from 'vitest';
import { call, createTestApp, expectOutcome } from '../support/app.ts';

describe('FHIR HTTP conventions', () => {
  it('serves the CapabilityStatement at /metadata and /fhir/metadata', async () => {
    const { app } = createTestApp();
    for (const path of ['/metadata', '/fhir/metadata']) {
      const response = await call(app, path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
      const statement = await response.json();
      expect(statement.resourceType).toBe('CapabilityStatement');
      expect(statement.fhirVersion).toBe('4.0.1');
      expect(statement.implementation.url).toBe('http://facade.test/fhir');
    }
  });

  it('lists only what is mounted, with the store’s search parameters but not its internal ones', async () => {
    const { app } = createTestApp();
    const statement = await (await call(app, '/metadata')).json();
    const types = statement.rest[0].resource.map((r: { type: string }) => r.type);
    expect(types).toContain('ServiceRequest');
    expect(types).not.toContain('Medication');
    const sr = statement.rest[0].resource.find((r: { type: string }) => r.type === 'ServiceRequest');
    const params = sr.searchParam.map((p: { name: string }) => p.name);
    expect(params).toEqual(expect.arrayContaining(['identifier', 'patient', 'status', 'performer', '_id']));
    expect(params).not.toContain('_project');
    expect(params).not.toContain('_compartment');
    expect(params).not.toContain('_security');
  });

  it('honours _format and Accept for the response media type', async () => {
    const { app } = createTestApp();
    const plain = await call(app, '/metadata?_format=application/json');
    expect(plain.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const short = await call(app, '/metadata?_format=json');
    expect(short.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
    const accept = await call(app, '/metadata', { headers: { accept: 'application/json' } });
    expect(accept.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const browser = await call(app, '/metadata', {
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    expect(browser.status).toBe(200);
  });

  it('answers 406 with an OperationOutcome when only XML is acceptable', async () => {
    const { app } = createTestApp();
    await expectOutcome(await call(app, '/metadata?_format=xml'), 406, 'not-supported');
    await expectOutcome(
      await call(app, '/metadata', { headers: { accept: 'application/fhir+xml' } }),
      406,
      'not-supported',
    );
  });

  it('echoes a valid X-Request-ID and generates one otherwise', async () => {
    const { app } = createTestApp();
    const echoed = await call(app, '/metadata', { headers: { 'x-request-id': 'gp-system-0001' } });
    expect(echoed.headers.get('x-request-id')).toBe('gp-system-0001');
    const generated = await call(app, '/metadata');
    expect(generated.headers.get('x-request-id')).toMatch(/^00000000-0000-4000-8000-\d{12}$/);
    const unsafe = await call(app, '/metadata', { headers: { 'x-request-id': 'bad id <script>' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^00000000-0000-4000-8000-\d{12}$/);
  });

  it('carries the request id on error responses too', async () => {
    const { app } = createTestApp();
    const response = await call(app, '/no/such/route', { headers: { 'x-request-id': 'abc-123' } });
    expect(response.headers.get('x-request-id')).toBe('abc-123');
    await expectOutcome(response, 404, 'not-found');
  });

  it('answers unknown routes with a 404 OperationOutcome', async () => {
    const { app } = createTestApp();
    await expectOutcome(await call(app, '/nowhere'), 404, 'not-found');
    await expectOutcome(await call(app, '/fhir/Patient/1/2/3/4'), 404, 'not-found');
    // A path that is a route pattern's wildcard, taken literally: unknown, like any other.
    for (const path of ['/fhir/*', '/referrals/*', '/fhir/Patient/*']) {
      await expectOutcome(
        await call(app, path, { method: 'POST', body: { resourceType: 'Patient' } }),
        404,
        'not-found',
      );
      await expectOutcome(await call(app, path), 404, 'not-found');
    }
  });

  it('refuses a body in another media type with 415', async () => {
    const { app } = createTestApp();
    const response = await call(app, '/fhir/ServiceRequest', {
      body: '<ServiceRequest/>',
      headers: { 'content-type': 'application/fhir+xml' },
    });
    await expectOutcome(response, 415, 'not-supported');
    const missing = await app.request('http://facade.test/fhir/ServiceRequest', {
      method: 'POST',
      body: '{}',
    });
    expect(missing.status).toBe(415);
  });

  it('accepts plain application/json bodies as well as FHIR JSON', async () => {
    const { app } = createTestApp();
    const response = await call(app, '/fhir/Nothing', {
      body: {},
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).not.toBe(415);
  });

  it('refuses a body over the configured limit with 413, whether or not Content-Length is sent', async () => {
    const { app } = createTestApp({ MAX_BODY_BYTES: '64' });
    const big = JSON.stringify({ resourceType: 'Basic', note: 'x'.repeat(200) });
    const declared = await call(app, '/fhir/ServiceRequest', { body: big });
    // The unread rest of the body would corrupt the next request on a kept-alive connection.
    expect(declared.headers.get('connection')).toBe('close');
    await expectOutcome(declared, 413, 'too-long');
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const chunked = await app.request('http://facade.test/fhir/ServiceRequest', {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expectOutcome(chunked, 413, 'too-long');
  });

  it('answers malformed JSON with 400, without quoting the body back or logging it', async () => {
    const { app, logs } = createTestApp();
    const secret = '{"resourceType":"Patient","name":[{"family":"Tester-Smith"}], 9434765919';
    const response = await call(app, '/fhir/ServiceRequest', { body: secret });
    const outcome = await expectOutcome(response, 400, 'structure');
    expect(JSON.stringify(outcome)).not.toContain('Tester-Smith');
    expect(logs.join('\n')).not.toContain('Tester-Smith');
    expect(logs.join('\n')).not.toContain('9434765919');
  });

  it('logs the route pattern, never the query string', async () => {
    const { app, logs } = createTestApp();
    await call(app, '/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919');
    const line = logs.find((l) => l.includes('"event":"request"'));
    expect(line).toContain('"route":"/fhir/:type"');
    expect(logs.join('\n')).not.toContain('9434765919');
  });

  it('answers an unexpected fault with a generic 500 and logs no message text', async () => {
    const failing = createTestApp().store;
    const { app, logs } = createTestApp(
      {},
      {
        store: {
          ...failing,
          read: () => {
            throw new TypeError('boom with Tester-Smith inside');
          },
        },
      },
    );
    const outcome = await expectOutcome(await call(app, '/fhir/Patient/1'), 500, 'exception');
    expect(JSON.stringify(outcome)).not.toContain('Tester-Smith');
    expect(logs.join('\n')).not.toContain('Tester-Smith');
    expect(logs.join('\n')).toContain('"error":"TypeError"');
  });
});
