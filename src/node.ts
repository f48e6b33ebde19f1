/**
 * Node entry for `npm start`: the same app as the Worker, on the embedded Medplum unless
 * MEDPLUM_* settings point at a real one.
 */
import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { ConfigError, parseConfig } from './config.ts';
import { indexDefinitions } from './fhir/definitions.ts';
import { createJsonLogger } from './logger.ts';
import { createEmbeddedStore } from './medplum/embedded/connect.ts';
import { seedEmbeddedStore } from './medplum/embedded/seed.ts';
import { createMedplumClient, createMedplumStore } from './medplum/store.ts';

async function main(): Promise<void> {
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
  if (config.medplum) {
    store = createMedplumStore(
      createMedplumClient({ ...config.medplum, timeoutMs: config.upstreamTimeoutMs }),
    );
    storeLabel = `Medplum at ${config.medplum.baseUrl}`;
  } else {
    const embedded = createEmbeddedStore({ timeoutMs: config.upstreamTimeoutMs });
    store = embedded.store;
    const seeded = await seedEmbeddedStore(embedded.store);
    storeLabel = `embedded Medplum (in memory, ${seeded} example resources loaded)`;
  }

  const app = createApp({
    config,
    store,
    clock: () => new Date(),
    newId: () => crypto.randomUUID(),
    logger,
  });

  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
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
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

await main();
