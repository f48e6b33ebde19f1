import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { ClientRegistryError, parseClientRegistry } from '../../src/auth/clients.ts';
import { CLIENTS_JSON } from '../support/secured.ts';

async function key(alg: 'ES384' | 'ES256' | 'RS384', kid: string, priv = false) {
  const pair = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(priv ? pair.privateKey : pair.publicKey)), kid };
}

const registry = (clients: unknown[]) => JSON.stringify({ clients });
const client = (overrides: Record<string, unknown>) => ({
  clientId: 'a',
  organization: 'B99901',
  scopes: ['system/*.rs'],
  ...overrides,
});

function problems(text: string): readonly string[] {
  try {
    parseClientRegistry(text);
  } catch (err) {
    if (err instanceof ClientRegistryError) return err.problems;
    throw err;
  }
  return [];
}

describe('the client registry', () => {
  it('reads the test registry, pinning each key to its algorithm', () => {
    const clients = parseClientRegistry(CLIENTS_JSON);
    expect([...clients.keys()]).toHaveLength(6);
    const sp = clients.get('riverside-social-prescribing');
    expect(sp?.keys.map((k) => k.alg)).toEqual(['RS384']);
    expect(sp?.organization).toBe('SPX01');
  });

  it('refuses private keys, keys off P-384, keys whose algorithm does not fit, duplicates and unknown scopes, all at once', async () => {
    const found = problems(
      registry([
        client({ jwks: { keys: [await key('ES384', 'p', true)] } }),
        client({ clientId: 'b', jwks: { keys: [await key('ES256', 'q')] } }),
        client({ clientId: 'c', jwks: { keys: [{ ...(await key('RS384', 'r')), alg: 'ES384' }] } }),
        client({
          clientId: 'c',
          scopes: ['user/*.rs', 'system/Patient.sr'],
          jwks: { keys: [await key('ES384', 's')] },
        }),
      ]),
    );
    expect(found.join('\n')).toMatch(/private key material/);
    expect(found.join('\n')).toMatch(/P-384/);
    expect(found.join('\n')).toMatch(/does not fit its algorithm/);
    expect(found.join('\n')).toMatch(/registered twice/);
    expect(found.join('\n')).toMatch(/"user\/\*\.rs" is not a supported system scope/);
    expect(found.join('\n')).toMatch(/"system\/Patient\.sr" is not a supported system scope/);
    // Nothing of a key is ever echoed.
    expect(found.join('\n')).not.toMatch(/"d"|"n":/);
  });

  it('refuses text that is not JSON, and a registry without clients', () => {
    expect(problems('{nope')).toEqual(['not valid JSON']);
    expect(problems('{}')).toEqual([expect.stringMatching(/^clients:/)]);
  });
});
