import { readFileSync } from 'node:fs';
import type { ClientKey } from './smart-client.ts';

const KEYS_FILE = new URL('../examples/auth/test-client-keys.json', import.meta.url);

/** A test client's private key from examples/auth/test-client-keys.json (published: tests only). */
export function testClientKey(clientId: string): ClientKey {
  const { keys } = JSON.parse(readFileSync(KEYS_FILE, 'utf8')) as { keys: ClientKey[] };
  const key = keys.find((k) => k.clientId === clientId);
  if (!key) throw new Error(`No test key for client ${clientId}`);
  return key;
}
