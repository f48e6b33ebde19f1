/**
 * The Worker's outbox: a Cloudflare Queue (binding `OUTBOX`) that the Worker both sends to and
 * consumes, with a dead-letter queue (binding `OUTBOX_DEAD_LETTERS`) for messages that used up
 * their attempts. Audit records go through it when it is bound; without it the app keeps them in
 * memory and writes them with `waitUntil`, as before.
 */
import type { AuditSink } from '../audit/audit-sink.ts';
import { createStoreAuditSink } from '../audit/audit-sink.ts';
import { auditHandlers, createOutboxAuditSink } from '../audit/outbox-audit.ts';
import { ConfigError, parseConfig } from '../config.ts';
import { createJsonLogger, type Logger } from '../logger.ts';
import { createMedplumClient, createMedplumStore, type FhirStore } from '../medplum/store.ts';
import { DEFAULT_DELIVERY_POLICY, type DeliveryPolicy } from '../outbox/outbox.ts';
import {
  consumeOutboxBatch,
  createQueueOutbox,
  type QueueBatchLike,
  type QueueProducer,
} from '../outbox/queue-outbox.ts';

/** The Queue bindings, as wrangler.toml names them. */
export const OUTBOX_BINDINGS = { queue: 'OUTBOX', deadLetters: 'OUTBOX_DEAD_LETTERS' } as const;

/**
 * Attempts and backoff of the Queue consumer. `maxAttempts` is the consumer's `max_retries` in
 * wrangler.toml plus one (a test holds them together), so the last attempt the consumer counts is
 * the last delivery the Queue makes.
 */
export const OUTBOX_QUEUE_POLICY: DeliveryPolicy = DEFAULT_DELIVERY_POLICY;

function isQueueProducer(value: unknown): value is QueueProducer {
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

interface Consumer {
  store: FhirStore;
  logger: Logger;
}

let built: { env: Record<string, unknown>; consumer: Consumer } | undefined;

/** One Medplum client (and its token) per isolate and set of bindings, as for the app. */
function consumerFor(env: Record<string, unknown>): Consumer {
  if (built?.env === env) return built.consumer;
  const config = parseConfig(env, { requireMedplum: true });
  const medplum = config.medplum as NonNullable<typeof config.medplum>;
  const client = createMedplumClient({ ...medplum, timeoutMs: config.upstreamTimeoutMs });
  const consumer = { store: createMedplumStore(client), logger: createJsonLogger(config.logLevel) };
  built = { env, consumer };
  return consumer;
}

/**
 * The Worker's `queue` handler for the outbox. A configuration problem fails the whole batch,
 * which the Queue delivers again (and in the end dead-letters); it is logged by setting name only.
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
    handlers: auditHandlers(consumer.store),
    logger: consumer.logger,
    policy: OUTBOX_QUEUE_POLICY,
    ...(isQueueProducer(deadLetters) ? { deadLetters } : {}),
  });
}
