import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { tokenForm } from '../../scripts/smart-client.ts';
import { testClientKey } from '../../scripts/test-client-keys.ts';
import { TEST_NOW } from '../support/app.ts';
import { GP, securedApp, TOKEN_URL } from '../support/secured.ts';

/** A GP assertion issued `ahead` seconds from now that expires a minute from now. */
async function issuedAhead(ahead: number): Promise<string> {
  const key = testClientKey(GP);
  const now = Math.floor(TEST_NOW.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: key.jwk.alg as string, kid: key.jwk.kid as string, typ: 'JWT' })
    .setIssuer(GP)
    .setSubject(GP)
    .setAudience(TOKEN_URL)
    .setIssuedAt(now + ahead)
    .setExpirationTime(now + 60)
    .setJti(crypto.randomUUID())
    .sign(await importJWK(key.jwk, key.jwk.alg as string));
}

describe('the token endpoint under pressure', () => {
  it('is rate-limited by where requests come from, with Retry-After, before any work', async () => {
    const s = await securedApp({ RATE_LIMIT_PER_MINUTE: '3' });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await s.tokenResponse('grant_type=client_credentials')).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const refused = await s.tokenResponse('grant_type=client_credentials');
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect((await refused.json()).error).toBe('invalid_request');
  });
});

describe('assertions issued in the future', () => {
  it('are refused an hour ahead, and accepted within the clock-skew allowance', async () => {
    const s = await securedApp();
    const ahead = await s.tokenResponse(tokenForm(await issuedAhead(3600), 'system/*.rs'));
    expect(ahead.status).toBe(401);
    expect((await ahead.json()).error).toBe('invalid_client');
    const skewed = await s.tokenResponse(tokenForm(await issuedAhead(20), 'system/*.rs'));
    expect(skewed.status).toBe(200);
    // Just past the allowance is refused too.
    const past = await s.tokenResponse(tokenForm(await issuedAhead(45), 'system/*.rs'));
    expect(past.status).toBe(401);
  });
});

describe('npm run keys', () => {
  it('writes a client’s private key where git does not take it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    try {
      const script = fileURLToPath(new URL('../../scripts/keys.ts', import.meta.url));
      const run = spawnSync(process.execPath, [script, 'client', 'demo-gp-system', 'B99902'], { cwd: dir });
      expect(run.status).toBe(0);
      expect(readdirSync(dir)).toEqual(['.keys']);
      expect(existsSync(join(dir, '.keys', 'demo-gp-system.private-jwk.json'))).toBe(true);
      expect(JSON.parse(run.stdout.toString()).jwks.keys[0].d).toBeUndefined();
      const repo = fileURLToPath(new URL('../..', import.meta.url));
      const ignored = spawnSync('git', ['check-ignore', '-q', '.keys/demo-gp-system.private-jwk.json'], {
        cwd: repo,
      });
      expect(ignored.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
