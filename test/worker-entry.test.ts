import { describe, expect, it } from 'vitest';
import worker from '../src/worker.ts';

const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} };

describe('Worker entry', () => {
  it('refuses to serve with a 500 OperationOutcome when Medplum settings are missing, naming none of them', async () => {
    const response = await worker.fetch(
      new Request('https://facade.test/metadata'),
      { MEDPLUM_CLIENT_SECRET: 'xyz-secret' },
      ctx,
    );
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const body = await response.text();
    expect(JSON.parse(body).resourceType).toBe('OperationOutcome');
    expect(body).not.toContain('xyz-secret');
    expect(body).not.toContain('MEDPLUM');
  });
});
