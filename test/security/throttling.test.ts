import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { tokenForm } from '../../scripts/smart-client.ts';
import { createApp } from '../../src/app.ts';
import { type AuthMode, createAuthMode } from '../../src/auth/mode.ts';
import { generateSigningKeyJwk } from '../../src/auth/tokens.ts';
import { parseConfig } from '../../src/config.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import type { RateLimiter } from '../../src/middleware/rate-limit.ts';
import worker from '../../src/worker.ts';
import { call, captureLogger, expectOutcome, TEST_NOW } from '../support/app.ts';
import { assertionFor, BASE, CLIENTS_JSON, GP, SP, securedApp, TOKEN_URL } from '../support/secured.ts';

/** A limiter that notes every key it is asked about and answers as told. */
function recording(allow: boolean): RateLimiter & { keys: string[] } {
  const keys: string[] = [];
  return {
    keys,
    async limit({ key }) {
      keys.push(key);
      return { success: allow };
    },
  };
}

/** The secured app with its two limiters given. */
async function appWith(limiters: { api: RateLimiter; token: RateLimiter }) {
  const auth = (await createAuthMode({
    clients: CLIENTS_JSON,
    signingKey: JSON.stringify(await generateSigningKeyJwk()),
    openWhenUnconfigured: false,
    clock: () => TEST_NOW,
  })) as AuthMode & { kind: 'tokens' };
  return createApp({
    config: parseConfig({ LOG_LEVEL: 'silent', PUBLIC_BASE_URL: BASE }),
    store: createEmbeddedStore({ timeoutMs: 5_000 }).store,
    clock: () => TEST_NOW,
    newId: () => crypto.randomUUID(),
    logger: captureLogger(),
    auth,
    rateLimiter: limiters.api,
    tokenRateLimiter: limiters.token,
  });
}

const tokenRequest = async (app: Awaited<ReturnType<typeof appWith>>) =>
  app.request(TOKEN_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: tokenForm(await assertionFor(GP), 'system/*.rs'),
  });

describe('the token endpoint’s limit and the API’s are apart', () => {
  it('each asks only its own limiter: a refusing API limiter leaves tokens issued, and the reverse', async () => {
    const api = recording(false);
    const token = recording(true);
    const app = await appWith({ api, token });
    const issued = await tokenRequest(app);
    expect(issued.status).toBe(200);
    const { access_token } = (await issued.json()) as { access_token: string };
    await expectOutcome(
      await call(app, '/fhir/Organization', { headers: { authorization: `Bearer ${access_token}` } }),
      429,
      'throttled',
    );
    expect(token.keys).toHaveLength(1);
    expect(api.keys).toHaveLength(1);
    expect(token.keys[0]).not.toBe(api.keys[0]);

    const refusingTokens = await appWith({ api: recording(true), token: recording(false) });
    expect((await tokenRequest(refusingTokens)).status).toBe(429);
  });

  it('in process, using up one allowance leaves the other whole', async () => {
    const s = await securedApp({ RATE_LIMIT_PER_MINUTE: '3' });
    const gp = await s.token(GP, 'system/*.rs');
    for (let i = 0; i < 3; i++) expect((await s.as(gp, '/fhir/Organization')).status).toBe(200);
    await expectOutcome(await s.as(gp, '/fhir/Organization'), 429, 'throttled');
    // The client is held back from the API, not from the token endpoint: two token requests left.
    expect((await s.tokenResponse(tokenForm(await assertionFor(GP), 'system/*.rs'))).status).toBe(200);
    expect((await s.tokenResponse(tokenForm(await assertionFor(SP), 'system/*.rs'))).status).toBe(200);
    expect((await s.tokenResponse('grant_type=client_credentials')).status).toBe(429);
    // And the token endpoint used up leaves another client's API allowance whole.
    const t = await securedApp({ RATE_LIMIT_PER_MINUTE: '3' });
    const sp = await t.token(SP, 'system/*.rs');
    for (let i = 0; i < 2; i++) await t.tokenResponse('grant_type=client_credentials');
    expect((await t.tokenResponse('grant_type=client_credentials')).status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await t.as(sp, '/fhir/Organization')).status).toBe(200);
  });
});

describe('the token endpoint on Workers', () => {
  it('is limited by the address Cloudflare names in CF-Connecting-IP', async () => {
    const env = {
      MEDPLUM_BASE_URL: 'https://medplum.test/',
      MEDPLUM_CLIENT_ID: 'c',
      MEDPLUM_CLIENT_SECRET: 's',
      LOG_LEVEL: 'silent',
      PUBLIC_BASE_URL: 'https://facade.test',
      RATE_LIMIT_PER_MINUTE: '2',
      AUTH_CLIENTS: CLIENTS_JSON,
      AUTH_SIGNING_KEY: JSON.stringify(await generateSigningKeyJwk()),
    };
    const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} };
    const from = async (address: string) =>
      (
        await worker.fetch(
          new Request('https://facade.test/oauth2/token', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'cf-connecting-ip': address },
            body: 'grant_type=client_credentials',
          }),
          env,
          ctx,
        )
      ).status;
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await from('198.51.100.1'));
    statuses.push(await from('198.51.100.2'));
    expect(statuses).toEqual([401, 401, 429, 401]);
  });
});

describe('throttled requests in the audit trail', () => {
  it('records one AuditEvent per client per minute for its throttled requests, not one each', async () => {
    const s = await securedApp({ RATE_LIMIT_PER_MINUTE: '3' });
    const gp = await s.token(GP, 'system/*.rs');
    const sp = await s.token(SP, 'system/*.rs');
    for (let i = 0; i < 3; i++) expect((await s.as(gp, '/fhir/Organization')).status).toBe(200);
    for (let i = 0; i < 6; i++) expect((await s.as(gp, '/fhir/Organization')).status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await s.as(sp, '/fhir/Organization')).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await s.as(sp, '/fhir/Organization')).status).toBe(429);
    // The next minute: each client's throttled requests are recorded once again.
    s.setNow(new Date(s.now().getTime() + 60_000));
    const gpLater = await s.token(GP, 'system/*.rs');
    for (let i = 0; i < 3; i++) expect((await s.as(gpLater, '/fhir/Organization')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await s.as(gpLater, '/fhir/Organization')).status).toBe(429);
    await s.audit.flush();
    const events = ((await s.store.search('AuditEvent', { _count: '100' })) as Bundle<AuditEvent>).entry?.map(
      (e) => e.resource as AuditEvent,
    );
    const tally = (clientId: string, status: number) =>
      (events ?? []).filter(
        (e) => e.agent[0]?.who?.identifier?.value === clientId && e.outcomeDesc === `HTTP ${status}`,
      ).length;
    expect({ gp: [tally(GP, 200), tally(GP, 429)], sp: [tally(SP, 200), tally(SP, 429)] }).toEqual({
      gp: [6, 2],
      sp: [3, 1],
    });
  });
});
