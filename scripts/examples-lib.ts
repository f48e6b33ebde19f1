/**
 * Reads the request/expected-response pairs in `examples/` from disk and checks answers against
 * them (example-pairs.ts); used by the examples test (through the app) and by `npm run examples`
 * (against a running service).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Example } from './example-pairs.ts';

export * from './example-pairs.ts';

export const EXAMPLES_DIR = new URL('../examples/', import.meta.url).pathname;

/** The scopes a test client is registered for (examples/auth/clients.json): what it asks for. */
export function registeredScopes(clientId: string): string {
  const registry = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'auth/clients.json'), 'utf8')) as {
    clients: { clientId: string; scopes: string[] }[];
  };
  return registry.clients.find((c) => c.clientId === clientId)?.scopes.join(' ') ?? '';
}

/** The pairs in one folder of `examples/`, in file-name order (later scenarios build on earlier). */
export function loadExamples(folder: string): Example[] {
  const dir = join(EXAMPLES_DIR, folder);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.request.json'))
    .sort()
    .map((file) => {
      const name = file.replace(/\.request\.json$/, '');
      return {
        name,
        request: JSON.parse(readFileSync(join(dir, file), 'utf8')),
        response: JSON.parse(readFileSync(join(dir, `${name}.response.json`), 'utf8')),
      };
    });
}
