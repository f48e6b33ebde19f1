/**
 * Node entry for `npm start`: the same app as the Worker, on the embedded Medplum unless
 * MEDPLUM_* settings point at a real one. The embedded store keeps its data in DATA_DIR
 * (default `.data/` in the project); `npm start -- --memory` gives a throwaway one instead.
 */
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { ConfigError, parseConfig } from './config.ts';
import { indexDefinitions } from './fhir/definitions.ts';
import { createJsonLogger } from './logger.ts';
import { createEmbeddedStore } from './medplum/embedded/connect.ts';
import { DataDirectoryInUseError } from './medplum/embedded/journal.ts';
import { EmbeddedRepository } from './medplum/embedded/repository.ts';
import { seedOnce } from './medplum/embedded/seed.ts';
import { createMedplumClient, createMedplumStore } from './medplum/store.ts';

const DEFAULT_DATA_DIR = fileURLToPath(new URL('../.data/', import.meta.url));

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknownArgs = args.filter((a) => a !== '--memory');
  if (unknownArgs.length > 0) {
    console.error(`Unknown argument(s): ${unknownArgs.join(' ')} (the only one is --memory)`);
    process.exit(1);
  }
  const inMemory = args.includes('--memory');
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const logger = createJsonLogger(config.logLevel);
  indexDefinitions();

  let store: ReturnType<typeof createMedplumStore>;
  let storeLabel: string;
  let closeStore = () => {};
  if (config.medplum) {
    store = createMedplumStore(
      createMedplumClient({ ...config.medplum, timeoutMs: config.upstreamTimeoutMs }),
    );
    storeLabel = `Medplum at ${config.medplum.baseUrl}`;
  } else {
    const dir = config.dataDir ?? DEFAULT_DATA_DIR;
    let repo: EmbeddedRepository;
    try {
      repo = EmbeddedRepository.open(inMemory ? 'memory' : { dir });
    } catch (err) {
      if (err instanceof DataDirectoryInUseError) {
        console.error(`${err.message}: stop it, or set DATA_DIR to another directory`);
        process.exit(1);
      }
      throw err;
    }
    closeStore = () => repo.close();
    const embedded = createEmbeddedStore({ timeoutMs: config.upstreamTimeoutMs, repo });
    store = embedded.store;
    const seeded = await seedOnce(embedded.store, repo);
    const seedNote = seeded === undefined ? '' : `, ${seeded} example resources loaded`;
    storeLabel = inMemory
      ? `embedded Medplum (in memory: gone when the process stops${seedNote})`
      : `embedded Medplum (data in ${dir}${seedNote})`;
  }

  const app = createApp({
    config,
    store,
    clock: () => new Date(),
    newId: () => crypto.randomUUID(),
    logger,
  });

  const fetch = async (request: Request): Promise<Response> => {
    const response = await app.fetch(request);
    if (response.status === 413) await discardBody(request, config.maxBodyBytes * 8);
    return response;
  };
  const server = serve({ fetch, port: config.port, hostname: config.host }, (info) => {
    const base = `http://${info.address}:${info.port}`;
    console.log(
      [
        `Social prescribing FHIR facade listening on ${base}`,
        `FHIR store: ${storeLabel}`,
        'Try:',
        `  curl ${base}/metadata`,
        `  curl ${base}/fhir/Organization`,
        `  curl ${base}/health/ready`,
      ].join('\n'),
    );
  });
  const stop = () =>
    server.close(() => {
      closeStore();
      process.exit(0);
    });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * Reads and drops what is left of a refused body, up to a bound, before the 413 is sent: closing
 * a connection with unread data in it resets it, and the client would never see the 413.
 */
async function discardBody(request: Request, maxBytes: number): Promise<void> {
  if (!request.body || request.body.locked) return;
  const reader = request.body.getReader();
  let read = 0;
  try {
    while (read <= maxBytes) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away; nothing to answer.
  }
}

await main();
