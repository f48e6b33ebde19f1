import { afterEach, describe, expect, it, vi } from 'vitest';
import { clientAssertion, tokenForm } from '../../scripts/smart-client.ts';
import { testClientKey } from '../../scripts/test-client-keys.ts';
import { createApp } from '../../src/app.ts';
import { createAuthMode } from '../../src/auth/mode.ts';
import { generateSigningKeyJwk } from '../../src/auth/tokens.ts';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import worker from '../../src/worker.ts';
import { captureLogger, TEST_NOW } from '../support/app.ts';
import { BASE, CLIENTS_JSON, GP, securedApp } from '../support/secured.ts';

const EVIL = 'http://evil.example';
const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} };
const MEDPLUM = {
  MEDPLUM_BASE_URL: 'https://medplum.test/',
  MEDPLUM_CLIENT_ID: 'c',
  MEDPLUM_CLIENT_SECRET: 's',
  LOG_LEVEL: 'silent',
};

afterEach(() => {
  vi.restoreAllMocks();
});

/** A token request sent to `host`, for an assertion whose audience is `audience`'s token endpoint. */
async function tokenRequestAt(host: string, audience: string, now = TEST_NOW): Promise<Request> {
  const assertion = await clientAssertion(testClientKey(GP), `${audience}/oauth2/token`, { now });
  return new Request(`${host}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', host: new URL(host).host },
    body: tokenForm(assertion, 'system/*.rs'),
  });
}

describe('with clients registered, tokens are for PUBLIC_BASE_URL, whatever the Host', () => {
  it('an app cannot be built with clients and no PUBLIC_BASE_URL', async () => {
    const auth = await createAuthMode({
      clients: CLIENTS_JSON,
      signingKey: JSON.stringify(await generateSigningKeyJwk()),
      openWhenUnconfigured: false,
      clock: () => TEST_NOW,
    });
    const build = (env: Record<string, string>) =>
      createApp({
        config: parseConfig({ LOG_LEVEL: 'silent', ...env }),
        store: createEmbeddedStore({ timeoutMs: 5_000 }).store,
        clock: () => TEST_NOW,
        newId: () => crypto.randomUUID(),
        logger: captureLogger(),
        auth,
      });
    expect(() => build({})).toThrow(ConfigError);
    expect(() => build({})).toThrow(/PUBLIC_BASE_URL/);
    expect(() => build({ PUBLIC_BASE_URL: BASE })).not.toThrow();
  });

  it('an assertion aimed at the Host sent is refused; one aimed at PUBLIC_BASE_URL is accepted', async () => {
    const s = await securedApp();
    const evil = await s.app.request(await tokenRequestAt(EVIL, EVIL));
    expect(evil.status).toBe(401);
    expect((await evil.json()).error).toBe('invalid_client');
    const ours = await s.app.request(await tokenRequestAt(EVIL, BASE));
    expect(ours.status).toBe(200);
  });

  it('the discovery document names PUBLIC_BASE_URL whatever the Host', async () => {
    const s = await securedApp();
    for (const host of [EVIL, BASE]) {
      for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
        const config = await (await s.app.request(`${host}${path}`)).json();
        expect(config).toMatchObject({
          issuer: BASE,
          token_endpoint: `${BASE}/oauth2/token`,
          jwks_uri: `${BASE}/.well-known/jwks.json`,
        });
      }
    }
  });

  it('the Worker with clients and no PUBLIC_BASE_URL refuses to serve, naming the setting in its log', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const env = {
      ...MEDPLUM,
      AUTH_CLIENTS: CLIENTS_JSON,
      AUTH_SIGNING_KEY: JSON.stringify(await generateSigningKeyJwk()),
    };
    const token = await worker.fetch(await tokenRequestAt(EVIL, EVIL, new Date()), env, ctx);
    expect(token.status).toBe(500);
    expect((await token.json()).resourceType).toBe('OperationOutcome');
    const fhir = await worker.fetch(new Request(`${EVIL}/fhir/ServiceRequest`), env, ctx);
    expect(fhir.status).toBe(500);
    expect(errors.mock.calls.flat().join('\n')).toMatch(/PUBLIC_BASE_URL/);
  });

  it('the Worker with PUBLIC_BASE_URL issues tokens for it alone, whatever the Host', async () => {
    const env = {
      ...MEDPLUM,
      PUBLIC_BASE_URL: 'https://facade.example.nhs.uk',
      AUTH_CLIENTS: CLIENTS_JSON,
      AUTH_SIGNING_KEY: JSON.stringify(await generateSigningKeyJwk()),
    };
    const evil = await worker.fetch(await tokenRequestAt(EVIL, EVIL, new Date()), env, ctx);
    expect(evil.status).toBe(401);
    const ours = await worker.fetch(
      await tokenRequestAt(EVIL, 'https://facade.example.nhs.uk', new Date()),
      env,
      ctx,
    );
    expect(ours.status).toBe(200);
    const config = await (
      await worker.fetch(new Request(`${EVIL}/.well-known/smart-configuration`), env, ctx)
    ).json();
    expect(config.issuer).toBe('https://facade.example.nhs.uk');
  });
});
