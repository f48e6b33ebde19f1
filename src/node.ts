/**
 * Node entry for `npm start`: the same app as the Worker, on the embedded Medplum unless
 * MEDPLUM_* settings point at a real one. The embedded store keeps its data in DATA_DIR
 * (default `.data/` in the project); `npm start -- --memory` gives a throwaway one instead.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type Http2Bindings, type HttpBindings, serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createApp } from './app.ts';
import { createStoreAuditSink } from './audit/audit-sink.ts';
import { auditHandlers, createOutboxAuditSink } from './audit/outbox-audit.ts';
import { ClientRegistryError } from './auth/clients.ts';
import { type AuthMode, createAuthMode } from './auth/mode.ts';
import { generateSigningKeyJwk } from './auth/tokens.ts';
import { ConfigError, LOOPBACK, parseConfig } from './config.ts';
import { indexDefinitions } from './fhir/definitions.ts';
import { operationOutcome } from './fhir/outcomes.ts';
import { publishedProfileFiles } from './fhir/published-profile-files.ts';
import { createJsonLogger } from './logger.ts';
import { createEmbeddedStore } from './medplum/embedded/connect.ts';
import { DataDirectoryInUseError } from './medplum/embedded/journal.ts';
import { heldLegacyRecords } from './medplum/embedded/record-model.ts';
import { EmbeddedRepository } from './medplum/embedded/repository.ts';
import { seedOnce } from './medplum/embedded/seed.ts';
import { createMedplumClient, createMedplumStore } from './medplum/store.ts';
import { SqliteAsyncJobs } from './outbox/sqlite-async-jobs.ts';
import { SqliteOutbox } from './outbox/sqlite-outbox.ts';
import { OutboxInUseError, openOutboxDatabase } from './outbox/sqlite-outbox-table.ts';
import { createInProcessLocks } from './referrals/locks.ts';
import { asyncIntakeDeadLetterHandlers, asyncIntakeHandlers } from './routes/async-referrals.ts';
import { nodeResolver, nodeSender } from './subscriptions/node-sender.ts';
import {
  NOTIFICATION_CONCURRENCY,
  NOTIFICATION_POLICY,
  wireNotifications,
} from './subscriptions/notifications.ts';

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
    config = parseConfig(process.env, { loopbackBaseUrl: true });
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
  // The outbox's table: in the embedded store's database, or in its own file beside a remote store.
  let outboxDb: DatabaseSync;
  if (config.medplum) {
    store = createMedplumStore(
      createMedplumClient({ ...config.medplum, timeoutMs: config.upstreamTimeoutMs }),
    );
    storeLabel = `Medplum at ${config.medplum.baseUrl}`;
    try {
      outboxDb = openOutboxDatabase(inMemory ? 'memory' : { dir: config.dataDir ?? DEFAULT_DATA_DIR });
    } catch (err) {
      if (err instanceof OutboxInUseError) {
        console.error(`${err.message}: stop it, or set DATA_DIR to another directory`);
        process.exit(1);
      }
      throw err;
    }
    const db = outboxDb;
    closeStore = () => db.close();
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
    outboxDb = repo.database();
    const embedded = createEmbeddedStore({ timeoutMs: config.upstreamTimeoutMs, repo });
    store = embedded.store;
    if (await heldLegacyRecords(embedded.store, repo)) {
      console.error(
        `${dir} holds records of people written by an earlier version, which kept one record per person shared by every organisation that referred them. Each organisation now keeps its own; the shared records cannot be split without guessing what each sender sent. Start with an empty DATA_DIR (or --memory) and send the referrals again.`,
      );
      process.exit(1);
    }
    const seeded = await seedOnce(embedded.store, repo);
    const seedNote = seeded === undefined ? '' : `, ${seeded} example resources loaded`;
    storeLabel = inMemory
      ? `embedded Medplum (in memory: gone when the process stops${seedNote})`
      : `embedded Medplum (data in ${dir}${seedNote})`;
  }

  const clock = () => new Date();
  const auth = await authMode(config, inMemory, clock);
  if (auth.kind === 'open' && !LOOPBACK.includes(config.host)) {
    console.error(
      `No API clients are registered (AUTH_CLIENTS_FILE), so the service would run open; it does that on loopback only, not on ${config.host}.`,
    );
    process.exit(1);
  }

  // Audit records wait in the outbox, on disk before each response is sent, until Medplum has them.
  // `Prefer: respond-async` referrals are queued there too, their jobs in a table beside it (jobs
  // expired are dropped as the table is opened, and as jobs are opened). Notifications have an
  // outbox of their own (a slow endpoint never holds up an audit record), fed by every write of a
  // watched type before it is answered.
  const newId = () => crypto.randomUUID();
  const locks = createInProcessLocks();
  const jobs = new SqliteAsyncJobs(outboxDb);
  const endpointPolicy = { allowLoopback: auth.kind === 'open' || config.subscriptionAllowLoopback };
  const listenBase = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  let notificationOutbox: SqliteOutbox | undefined;
  const notifications = wireNotifications({
    store,
    outbox: { enqueue: (kind, payload, options) => notificationOutbox?.enqueue(kind, payload, options) },
    clock,
    logger,
    openMode: auth.kind === 'open',
    policy: endpointPolicy,
    resolve: nodeResolver,
    send: nodeSender(endpointPolicy),
    timeoutMs: config.notificationTimeoutMs,
    fhirBase: `${config.publicBaseUrl ?? listenBase}/fhir`,
    audit: () => audit,
    maxAttempts: NOTIFICATION_POLICY.maxAttempts,
  });
  notificationOutbox = new SqliteOutbox(outboxDb, {
    table: 'notification_outbox',
    concurrency: NOTIFICATION_CONCURRENCY,
    handlers: notifications.handlers,
    deadLetterHandlers: notifications.deadLetterHandlers,
    policy: NOTIFICATION_POLICY,
    logger,
  });
  const watched = notifications.store;
  const outbox = new SqliteOutbox(outboxDb, {
    handlers: {
      ...auditHandlers(store),
      ...asyncIntakeHandlers({ store: watched, locks, clock, newId }, jobs, () => audit),
    },
    // A referral that used up its attempts leaves its job answering that it was not written.
    deadLetterHandlers: asyncIntakeDeadLetterHandlers(jobs),
    logger,
    ackDelayMs: config.testOutboxAckDelayMs,
  });
  const audit = createOutboxAuditSink({
    outbox,
    newId,
    logger,
    fallback: createStoreAuditSink(store, logger),
  });
  const app = createApp({
    config,
    store: watched,
    clock,
    newId,
    logger,
    auth,
    locks,
    asyncIntake: { jobs, outbox },
    publishedProfiles: publishedProfileFiles(),
    audit,
    // The socket's peer: on Node a CF-Connecting-IP header is anyone's to send.
    callerAddress: (c) => getConnInfo(c).remote.address,
    subscriptions: notifications.subscriptions,
  });
  outbox.start();
  notificationOutbox.start();

  // Node's bindings (the incoming message and its socket) go through to the app.
  const fetch = async (request: Request, bindings: HttpBindings | Http2Bindings): Promise<Response> => {
    const response = await app.fetch(request, bindings);
    if (response.status === 413) await discardBody(request, config.maxBodyBytes * 8);
    return response;
  };
  const server = serve({ fetch, port: config.port, hostname: config.host }, (info) => {
    const base = `http://${info.address}:${info.port}`;
    console.log(
      [
        `Social prescribing FHIR facade listening on ${base}`,
        `FHIR store: ${storeLabel}`,
        auth.kind === 'open'
          ? [
              '',
              '!!! OPEN LOCAL MODE: no API clients are registered, so anyone who can reach this port',
              '!!! can read and write everything. For trying the service on this machine only.',
              '!!! Register clients with AUTH_CLIENTS_FILE (see README) before holding real data.',
              '',
            ].join('\n')
          : `API clients: ${auth.kind === 'tokens' ? auth.service.clients.size : 0} registered; tokens from ${config.publicBaseUrl ?? base}/oauth2/token`,
        'Try:',
        `  curl ${base}/metadata`,
        `  curl ${base}/fhir/Organization`,
        `  curl ${base}/health/ready`,
      ].join('\n'),
    );
  });
  server.on('clientError', answerClientError);
  const stop = () =>
    server.close(async () => {
      await outbox.stop();
      await notificationOutbox?.stop();
      closeStore();
      process.exit(0);
    });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * What Node answers before the app sees a request it cannot parse. Oversized headers get a 431
 * with an OperationOutcome, as every other error does, rather than Node's bare status line.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, diagnostics] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'The request headers are larger than this server accepts']
      : [400, 'Bad Request', 'The request is not well-formed HTTP'];
  const body = JSON.stringify(
    operationOutcome([{ code: status === 431 ? 'too-long' : 'structure', diagnostics }]),
  );
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/fhir+json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Tokens when clients are registered (AUTH_CLIENTS or AUTH_CLIENTS_FILE), else the open local mode. */
async function authMode(
  config: ReturnType<typeof parseConfig>,
  inMemory: boolean,
  clock: () => Date,
): Promise<AuthMode> {
  const clients =
    config.auth.clients ??
    (config.auth.clientsFile ? readFileSync(config.auth.clientsFile, 'utf8') : undefined);
  try {
    return await createAuthMode({
      clients,
      signingKey: clients ? (config.auth.signingKey ?? (await signingKey(config, inMemory))) : undefined,
      openWhenUnconfigured: true,
      clock,
    });
  } catch (err) {
    if (err instanceof ClientRegistryError || err instanceof Error) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

/** The facade's signing key: kept in the data directory (made on first start), or per process. */
async function signingKey(config: ReturnType<typeof parseConfig>, inMemory: boolean): Promise<string> {
  if (inMemory) return JSON.stringify(await generateSigningKeyJwk());
  const dir = config.dataDir ?? DEFAULT_DATA_DIR;
  const file = join(dir, 'signing-key.json');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, JSON.stringify(await generateSigningKeyJwk()), { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8');
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
