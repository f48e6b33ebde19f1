/**
 * `npm run dev`: the Worker under `wrangler dev` (workerd). With MEDPLUM_* settings in the
 * environment or .dev.vars it talks to that Medplum; otherwise this starts the embedded Medplum
 * on a loopback port and points the Worker at it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { serve } from '@hono/node-server';
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

const wrangler = spawn('wrangler', args, { stdio: 'inherit' });
wrangler.on('exit', (code) => process.exit(code ?? 0));
process.on('SIGINT', () => wrangler.kill('SIGINT'));
process.on('SIGTERM', () => wrangler.kill('SIGTERM'));
