/**
 * The Worker's outbox: a Cloudflare Queue (binding `OUTBOX`) that the Worker both sends to and
 * consumes, with a dead-letter queue (binding `OUTBOX_DEAD_LETTERS`) for messages that used up
 * their attempts. Audit records go through it when it is bound; without it the app keeps them in
 * memory and writes them with `waitUntil`, as before. Referrals sent with `Prefer: respond-async`
 * go through it too when the async job objects (`ASYNC_JOB_SHARDS`) are bound as well; without
 * either, such referrals are answered at once.
 */
import type { AuditSink } from '../audit/audit-sink.ts';
import { createStoreAuditSink } from '../audit/audit-sink.ts';
import { auditHandlers, createOutboxAuditSink } from '../audit/outbox-audit.ts';
import { ConfigError, parseConfig } from '../config.ts';
import { createJsonLogger, type Logger } from '../logger.ts';
import { createMedplumClient, createMedplumStore, type FhirStore } from '../medplum/store.ts';
import type { AsyncJobs } from '../outbox/async-jobs.ts';
import { DEFAULT_DELIVERY_POLICY, type DeliveryPolicy, type OutboxHandlers } from '../outbox/outbox.ts';
import {
  consumeOutboxBatch,
  createQueueOutbox,
  type QueueBatchLike,
  type QueueProducer,
} from '../outbox/queue-outbox.ts';
import type { AsyncIntakeDeps } from '../referrals/async-intake.ts';
import { createInProcessLocks } from '../referrals/locks.ts';
import { asyncIntakeDeadLetterHandlers, asyncIntakeHandlers } from '../routes/async-referrals.ts';
import { NOTIFY_KIND } from '../subscriptions/matching.ts';
import { NOTIFICATION_POLICY } from '../subscriptions/notifications.ts';
import { createDurableObjectAsyncJobs } from './async-jobs.ts';
import { createDurableObjectLocks } from './locks.ts';
import { workerNotifications } from './notifications.ts';
import { isShardNamespace } from './shard-calls.ts';
import { SHARD_BINDINGS } from './shards.ts';

/** The Queue bindings, as wrangler.toml names them. */
export const OUTBOX_BINDINGS = { queue: 'OUTBOX', deadLetters: 'OUTBOX_DEAD_LETTERS' } as const;

/**
 * Attempts and backoff of the Queue consumer. `maxAttempts` is the consumer's `max_retries` in
 * wrangler.toml plus one (a test holds them together), so the last attempt the consumer counts is
 * the last delivery the Queue makes.
 */
export const OUTBOX_QUEUE_POLICY: DeliveryPolicy = DEFAULT_DELIVERY_POLICY;

export function isQueueProducer(value: unknown): value is QueueProducer {
  return typeof (value as QueueProducer | undefined)?.send === 'function';
}

/** `{ audit }` for createApp when the outbox Queue is bound; nothing otherwise. */
export function outboxAuditFor(
  env: Record<string, unknown>,
  store: FhirStore,
  logger: Logger,
): { audit?: AuditSink } {
  const queue = env[OUTBOX_BINDINGS.queue];
  if (!isQueueProducer(queue)) return {};
  return {
    audit: createOutboxAuditSink({
      outbox: createQueueOutbox(queue),
      newId: () => crypto.randomUUID(),
      logger,
      fallback: createStoreAuditSink(store, logger),
    }),
  };
}

/** The async job objects, when they are bound. */
function asyncJobsFor(env: Record<string, unknown>): AsyncJobs | undefined {
  const namespace = env[SHARD_BINDINGS.asyncJobs];
  return isShardNamespace(namespace) ? createDurableObjectAsyncJobs(namespace) : undefined;
}

/** `{ asyncIntake }` for createApp when both the outbox Queue and the job objects are bound. */
export function outboxAsyncIntakeFor(env: Record<string, unknown>): { asyncIntake?: AsyncIntakeDeps } {
  const queue = env[OUTBOX_BINDINGS.queue];
  const jobs = asyncJobsFor(env);
  if (!isQueueProducer(queue) || !jobs) return {};
  return { asyncIntake: { jobs, outbox: createQueueOutbox(queue) } };
}

interface Consumer {
  store: FhirStore;
  logger: Logger;
  handlers: OutboxHandlers;
  deadLetterHandlers: OutboxHandlers;
}

let built: { env: Record<string, unknown>; consumer: Consumer } | undefined;

/** One Medplum client (and its token) per isolate and set of bindings, as for the app. */
function consumerFor(env: Record<string, unknown>): Consumer {
  if (built?.env === env) return built.consumer;
  const config = parseConfig(env, { requireMedplum: true });
  const medplum = config.medplum as NonNullable<typeof config.medplum>;
  const client = createMedplumClient({ ...medplum, timeoutMs: config.upstreamTimeoutMs });
  const store = createMedplumStore(client);
  const logger = createJsonLogger(config.logLevel);
  const { audit } = outboxAuditFor(env, store, logger);
  // Changes matched and notifications sent (the outbox Queue is bound: this is its consumer).
  const queue = env[OUTBOX_BINDINGS.queue];
  const jobs = asyncJobsFor(env);
  const notifications = isQueueProducer(queue)
    ? workerNotifications(queue, store, config, logger, audit, jobs)
    : undefined;
  const consumer: Consumer = {
    store,
    logger,
    handlers: { ...auditHandlers(store), ...notifications?.handlers },
    deadLetterHandlers: { ...notifications?.deadLetterHandlers },
  };
  // Queued referrals: the intake as the synchronous one runs it (with the shared locks when bound),
  // its answer kept in the job's object.
  if (jobs) {
    const locks = env[SHARD_BINDINGS.locks];
    const intake = {
      // Written through the change feed, as the synchronous intake is.
      store: notifications?.store ?? store,
      locks: isShardNamespace(locks) ? createDurableObjectLocks(locks) : createInProcessLocks(),
      clock: () => new Date(),
      newId: () => crypto.randomUUID(),
    };
    consumer.handlers = { ...consumer.handlers, ...asyncIntakeHandlers(intake, jobs, () => audit) };
    consumer.deadLetterHandlers = { ...consumer.deadLetterHandlers, ...asyncIntakeDeadLetterHandlers(jobs) };
  }
  built = { env, consumer };
  return consumer;
}

/**
 * The Worker's `queue` handler for the outbox: audit records, and queued referrals where the job
 * objects are bound (a referral dead-lettered after its last attempt leaves its job answering 503,
 * not pending). A configuration problem fails the whole batch, which the Queue delivers again
 * (and in the end dead-letters; a referral's job then lapses); it is logged by setting name only.
 */
export async function consumeWorkerOutbox(
  batch: QueueBatchLike,
  env: Record<string, unknown>,
): Promise<void> {
  let consumer: Consumer;
  try {
    consumer = consumerFor(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(JSON.stringify({ level: 'error', event: 'config.invalid', problems: err.problems }));
    }
    throw err;
  }
  const deadLetters = env[OUTBOX_BINDINGS.deadLetters];
  await consumeOutboxBatch(batch, {
    handlers: consumer.handlers,
    deadLetterHandlers: consumer.deadLetterHandlers,
    logger: consumer.logger,
    policy: OUTBOX_QUEUE_POLICY,
    // A notification is tried for under an hour before its subscription is set to error.
    policies: { [NOTIFY_KIND]: NOTIFICATION_POLICY },
    ...(isQueueProducer(deadLetters) ? { deadLetters } : {}),
  });
}
