/**
 * `npm run dev`: the Worker under `wrangler dev` (workerd). With MEDPLUM_* settings in the
 * environment or .dev.vars it talks to that Medplum; otherwise this starts the embedded Medplum
 * on a loopback port and points the Worker at it. Unless .dev.vars says otherwise, the API
 * clients are those of AUTH_CLIENTS_FILE, or the test-only clients of examples/auth/, with a
 * signing key made for this run: the Worker fails closed without clients, and
 * `npm run examples -- --url http://127.0.0.1:<port>` then passes as it does against `npm start`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { generateSigningKeyJwk } from '../src/auth/tokens.ts';
import { indexDefinitions } from '../src/fhir/definitions.ts';
import { createEmbeddedStore } from '../src/medplum/embedded/connect.ts';
import { seedEmbeddedStore } from '../src/medplum/embedded/seed.ts';

const port = process.env.PORT ?? '8787';
const args = ['dev', '--ip', '127.0.0.1', '--port', port];

if (!process.env.MEDPLUM_BASE_URL && !existsSync('.dev.vars')) {
  indexDefinitions();
  const embedded = createEmbeddedStore({ timeoutMs: 10_000 });
  await seedEmbeddedStore(embedded.store);
  const medplumPort = Number(process.env.EMBEDDED_MEDPLUM_PORT ?? 8103);
  serve({ fetch: embedded.medplum.fetch, port: medplumPort, hostname: '127.0.0.1' });
  console.log(`Embedded Medplum on http://127.0.0.1:${medplumPort}/ (loopback only)`);
  args.push(
    '--var',
    `MEDPLUM_BASE_URL:http://127.0.0.1:${medplumPort}/`,
    '--var',
    'MEDPLUM_CLIENT_ID:embedded',
    '--var',
    'MEDPLUM_CLIENT_SECRET:embedded',
  );
}

if (!existsSync('.dev.vars')) {
  const registry = process.env.AUTH_CLIENTS_FILE ?? 'examples/auth/clients.json';
  const clients = JSON.stringify(JSON.parse(readFileSync(registry, 'utf8')));
  args.push(
    '--var',
    `AUTH_CLIENTS:${clients}`,
    '--var',
    `AUTH_SIGNING_KEY:${JSON.stringify(await generateSigningKeyJwk())}`,
    // Tokens are issued for the address the Worker listens on, never for a request's Host.
    '--var',
    `PUBLIC_BASE_URL:http://127.0.0.1:${port}`,
  );
  console.log(
    `API clients from ${registry}${registry.startsWith('examples/') ? ' (test-only keys, published)' : ''}`,
  );
}

const wrangler = spawn('wrangler', args, { stdio: 'inherit' });
wrangler.on('exit', (code) => process.exit(code ?? 0));
process.on('SIGINT', () => wrangler.kill('SIGINT'));
process.on('SIGTERM', () => wrangler.kill('SIGTERM'));
