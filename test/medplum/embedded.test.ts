import { describe, expect, it } from 'vitest';
import { createEmbeddedMedplum } from '../../src/medplum/embedded/server.ts';

describe('embedded Medplum surface', () => {
  it('issues a token only for a client-credentials request', async () => {
    const { fetch } = createEmbeddedMedplum();
    const form = (body: string) =>
      fetch(
        new Request('http://embedded/oauth2/token', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        }),
      );
    expect((await form('grant_type=password&client_id=a&client_secret=b')).status).toBe(400);
    expect((await form('grant_type=client_credentials&client_id=a')).status).toBe(400);
    const ok = await form('grant_type=client_credentials&client_id=a&client_secret=b');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
  });

  it('answers FHIR requests without a valid token with 401, as Medplum does', async () => {
    const { fetch } = createEmbeddedMedplum();
    const none = await fetch(new Request('http://embedded/fhir/R4/Patient'));
    expect(none.status).toBe(401);
    const forged = await fetch(
      new Request('http://embedded/fhir/R4/Patient', { headers: { authorization: 'Bearer x' } }),
    );
    expect(forged.status).toBe(401);
    expect((await forged.json()).resourceType).toBe('OperationOutcome');
  });
});
