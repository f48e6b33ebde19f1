import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { securedApp } from '../support/secured.ts';

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
