import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { call } from '../support/app.ts';
import { BASE, GP, securedApp } from '../support/secured.ts';

/**
 * SMART App Launch 2.0.0 (https://hl7.org/fhir/smart-app-launch/STU2/), Conformance page,
 * "FHIR Authorization Endpoint and Capabilities Discovery using a Well-Known Uniform Resource
 * Identifiers (URIs)" > "Response" > "Metadata": the properties marked REQUIRED.
 * `authorization_endpoint` is also marked REQUIRED there; SMART 2.2.0 corrected it to
 * CONDITIONAL, required only with the `launch-ehr` or `launch-standalone` capability
 * (FHIR-44918), and a Backend Services server declares neither, so it is left out here.
 */
const SMART_2_REQUIRED = [
  'grant_types_supported',
  'token_endpoint',
  'capabilities',
  'code_challenge_methods_supported',
] as const;

/**
 * SMART App Launch 2.0.0, "Client Authentication: Asymmetric (public key)" page, "Advertising
 * server support for this profile" (#discovery-requirements): the properties a server declaring
 * `client-confidential-asymmetric` includes.
 */
const ASYMMETRIC_CLIENT_PROPERTIES = [
  'token_endpoint',
  'scopes_supported',
  'token_endpoint_auth_methods_supported',
  'token_endpoint_auth_signing_alg_values_supported',
] as const;

/** The same "Metadata" list: RECOMMENDED properties this server can state truthfully. */
const SMART_2_RECOMMENDED = ['scopes_supported', 'response_types_supported'] as const;

describe('/.well-known/smart-configuration (SMART App Launch 2, Backend Services)', () => {
  it('holds every property SMART 2 requires for the capabilities it declares, at the root and under /fhir', async () => {
    const s = await securedApp();
    for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
      const response = await call(s.app, path, { headers: { accept: 'application/fhir+json' } });
      expect(response.status).toBe(200);
      // "servers SHALL respond with application/json", whatever Accept says.
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const config = (await response.json()) as Record<string, unknown>;
      for (const property of [...SMART_2_REQUIRED, ...ASYMMETRIC_CLIENT_PROPERTIES, ...SMART_2_RECOMMENDED]) {
        expect(config, property).toHaveProperty(property);
      }
      expect(config.capabilities).toEqual(
        expect.arrayContaining(['client-confidential-asymmetric', 'permission-v2']),
      );
      expect(config.grant_types_supported).toContain('client_credentials');
      expect(config.token_endpoint).toBe(`${BASE}/oauth2/token`);
      expect(config.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
      expect(config.token_endpoint_auth_signing_alg_values_supported).toEqual(
        expect.arrayContaining(['RS384', 'ES384']),
      );
      // "The S256 method SHALL be included in this list, and the plain method SHALL NOT be".
      expect(config.code_challenge_methods_supported).toContain('S256');
      expect(config.code_challenge_methods_supported).not.toContain('plain');
      expect(config.scopes_supported).toEqual(expect.arrayContaining(['system/*.rs']));
      // Every URL in it is absolute, so it holds wherever the document is read from.
      for (const key of ['issuer', 'jwks_uri', 'token_endpoint']) {
        expect(String(config[key])).toMatch(/^https?:\/\//);
      }
    }
  });

  it('publishes the facade’s signing key at jwks_uri: public only, and it verifies the tokens issued', async () => {
    const s = await securedApp();
    const config = (await (await call(s.app, '/.well-known/smart-configuration')).json()) as {
      issuer: string;
      jwks_uri: string;
    };
    const response = await s.app.request(config.jwks_uri);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    const [key] = jwks.keys;
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(secret);

    const token = await s.token(GP, 'system/*.rs');
    expect(decodeProtectedHeader(token).kid).toBe(key?.kid);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks as never), {
      issuer: config.issuer,
      audience: config.issuer,
      // The service's clock is fixed for tests; the token is checked at its time.
      currentDate: s.now(),
    });
    expect(payload.sub).toBe(GP);
  });
});
