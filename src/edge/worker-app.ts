/**
 * Builds the Worker's app from its bindings: configuration from `[vars]` and secrets, a Medplum
 * client, and, where their Durable Object bindings are present, the locks, X-Request-ID record
 * and assertion ledger shared by every isolate (in-process ones otherwise), the audit outbox
 * where its Queue is bound, asynchronous referral intake where the Queue and the async job
 * objects are both bound, and the rate limits where bound (`RATE_LIMITER` for clients,
 * `TOKEN_RATE_LIMITER` for the token endpoint by caller address). Each call builds an
 * independent app, as each isolate has its own; src/worker.ts keeps one per isolate.
 */
import type { Hono } from 'hono';
import { createApp } from '../app.ts';
import { createAuthMode } from '../auth/mode.ts';
import { parseConfig } from '../config.ts';
import type { AppEnv } from '../http/env.ts';
import { createJsonLogger } from '../logger.ts';
import { createMedplumClient, createMedplumStore } from '../medplum/store.ts';
import type { RateLimiter } from '../middleware/rate-limit.ts';
import { createDurableObjectJtiLedger } from './jti.ts';
import { createDurableObjectLocks } from './locks.ts';
import { workerNotifications } from './notifications.ts';
import { isQueueProducer, OUTBOX_BINDINGS, outboxAsyncIntakeFor, outboxAuditFor } from './outbox.ts';
import { isAssetsBinding, publishedProfileAssets } from './published-profile-assets.ts';
import { createDurableObjectReplayStore } from './replay.ts';
import { isShardNamespace } from './shard-calls.ts';
import { SHARD_BINDINGS } from './shards.ts';

/** The Worker's bindings: vars and secrets (strings) and platform bindings. */
export type WorkerEnv = Record<string, unknown>;

/** The static assets holding the published profiles (profiles/generated/), as wrangler.toml names them. */
export const PROFILES_BINDING = 'PROFILES';

/** Builds one app; throws ConfigError or ClientRegistryError (or Error for the key) on bad settings. */
export async function buildWorkerApp(env: WorkerEnv): Promise<Hono<AppEnv>> {
  const config = parseConfig(env, { requireMedplum: true });
  const medplum = config.medplum as NonNullable<typeof config.medplum>;
  const client = createMedplumClient({ ...medplum, timeoutMs: config.upstreamTimeoutMs });
  const clock = () => new Date();
  const locks = env[SHARD_BINDINGS.locks];
  const replay = env[SHARD_BINDINGS.replay];
  const jtis = env[SHARD_BINDINGS.jtis];
  const auth = await createAuthMode({
    clients: config.auth.clients,
    signingKey: config.auth.signingKey,
    openWhenUnconfigured: false,
    clock,
    ...(isShardNamespace(jtis) ? { jtis: createDurableObjectJtiLedger(jtis, clock) } : {}),
  });
  const limiter = rateLimiterBinding(env.RATE_LIMITER);
  // Its own binding when there is one, for an allowance of its own; else the clients' binding,
  // under keys of its own.
  const tokenLimiter = rateLimiterBinding(env.TOKEN_RATE_LIMITER) ?? limiter;
  const medplumStore = createMedplumStore(client);
  const logger = createJsonLogger(config.logLevel);
  const profiles = env[PROFILES_BINDING];
  const { audit } = outboxAuditFor(env, medplumStore, logger);
  // Subscriptions are served where the outbox Queue is bound: every write of a watched type is
  // fed to it before the write is answered, and its consumer matches and notifies.
  const queue = env[OUTBOX_BINDINGS.queue];
  const notifications = isQueueProducer(queue)
    ? workerNotifications(queue, medplumStore, config, logger, audit)
    : undefined;
  const store = notifications?.store ?? medplumStore;
  return createApp({
    config,
    store,
    clock,
    newId: () => crypto.randomUUID(),
    logger,
    auth,
    // Audit records go through the outbox Queue when it is bound; `Prefer: respond-async`
    // referrals too when the job objects are bound as well (answered at once otherwise).
    ...(audit ? { audit } : {}),
    ...outboxAsyncIntakeFor(env),
    ...(notifications ? { subscriptions: notifications.subscriptions } : {}),
    ...(isShardNamespace(locks) ? { locks: createDurableObjectLocks(locks) } : {}),
    ...(isShardNamespace(replay) ? { replay: createDurableObjectReplayStore(replay) } : {}),
    ...(isAssetsBinding(profiles) ? { publishedProfiles: publishedProfileAssets(profiles) } : {}),
    ...(limiter ? { rateLimiter: limiter } : {}),
    ...(tokenLimiter ? { tokenRateLimiter: tokenLimiter } : {}),
    // Cloudflare sets this header at its edge, replacing any the caller sent.
    callerAddress: (c) => c.req.header('cf-connecting-ip'),
  });
}

/** A Workers rate-limiting binding, if that is what is bound. */
function rateLimiterBinding(binding: unknown): RateLimiter | undefined {
  const limit = (binding as Partial<RateLimiter> | undefined)?.limit;
  return typeof limit === 'function' ? (binding as RateLimiter) : undefined;
}
