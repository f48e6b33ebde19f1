import { describe, expect, it } from 'vitest';
import { call, createTestApp, expectOutcome } from '../support/app.ts';
import { exampleBody, postBundle, seededApp } from '../support/referrals.ts';

describe('methods and paths', () => {
  it('a wrong method on a known path answers 405 with Allow, not 404', async () => {
    const { app } = createTestApp();
    const response = await call(app, '/fhir/Patient/123', { method: 'DELETE' });
    await expectOutcome(response, 405, 'not-supported');
    expect(response.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    const create = await call(app, '/fhir/Patient', { method: 'POST', body: { resourceType: 'Patient' } });
    expect(create.status).toBe(405);
    expect(create.headers.get('allow')).toContain('GET');
    await expectOutcome(await call(app, '/nowhere', { method: 'DELETE' }), 404, 'not-found');
  });

  it('OPTIONS says what a path offers, with CORS off', async () => {
    const { app } = createTestApp();
    const response = await call(app, '/fhir/Task/abc', { method: 'OPTIONS' });
    expect(response.status).toBe(204);
    expect(response.headers.get('allow')?.split(', ')).toEqual(
      expect.arrayContaining(['GET', 'PUT', 'PATCH', 'OPTIONS']),
    );
  });

  it('a trailing slash names the same resource: a transaction posted to [base]/ is accepted', async () => {
    const { app } = await seededApp();
    const response = await call(app, '/fhir/', { body: exampleBody('01-gp-transaction-bundle.200') });
    expect(response.status).toBe(200);
    expect((await response.json()).type).toBe('transaction-response');
    expect((await call(app, '/fhir/Organization/')).status).toBe(200);
    expect((await postBundle(app, exampleBody('01-gp-transaction-bundle.200'))).status).toBe(200);
  });

  it('the CORS preflight allows the headers updates and conditional creates need', async () => {
    const { app } = createTestApp({ CORS_ORIGINS: 'https://viewer.example' });
    const response = await app.request('http://facade.test/fhir/Task/abc', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://viewer.example',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'if-match, content-type',
      },
    });
    expect(response.status).toBe(204);
    const allowed = response.headers.get('access-control-allow-headers')?.toLowerCase() ?? '';
    for (const header of [
      'if-match',
      'if-none-match',
      'if-none-exist',
      'prefer',
      'x-request-id',
      'authorization',
    ]) {
      expect(allowed).toContain(header);
    }
    expect(response.headers.get('access-control-allow-methods')).toContain('PATCH');
  });
});
