import type { Logger } from '../logger.ts';
import {
  afterDeadLetter,
  asEnvelope,
  DEFAULT_DELIVERY_POLICY,
  type DeliveryPolicy,
  type EnqueueOptions,
  errorName,
  type Outbox,
  type OutboxEnvelope,
  type OutboxHandlers,
  retryDelayMs,
} from './outbox.ts';

/** The part of a Cloudflare Queue producer binding used here. */
export interface QueueProducer {
  send(body: unknown, options?: { contentType?: 'json' }): Promise<unknown>;
}

/** The part of a delivered Queue message used here. */
export interface QueueMessageLike {
  readonly id: string;
  readonly body: unknown;
  /** Deliveries so far, this one included (from 1). */
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

/** The part of a Queue batch used here. */
export interface QueueBatchLike {
  readonly queue: string;
  readonly messages: readonly QueueMessageLike[];
}

/** What a dead letter carries: the message as sent, and how many attempts it had. */
export interface DeadLetter extends OutboxEnvelope {
  attempts: number;
  error: string;
}

/** The Workers outbox: a Cloudflare Queue. Enqueue resolves once the Queue holds the message. */
export function createQueueOutbox(queue: QueueProducer): Outbox {
  return {
    async enqueue(kind: string, payload: unknown, options: EnqueueOptions = {}) {
      const envelope: OutboxEnvelope = { kind, ...(options.ref ? { ref: options.ref } : {}), payload };
      await queue.send(envelope, { contentType: 'json' });
    },
  };
}

export interface QueueConsumerOptions {
  handlers: OutboxHandlers;
  /** Run for a message of their kind once it is dead-lettered (see afterDeadLetter). */
  deadLetterHandlers?: OutboxHandlers;
  logger: Logger;
  /** Where a message goes after its last attempt; without it the Queue's own dead-letter queue takes it. */
  deadLetters?: QueueProducer;
  /** `maxAttempts` must be the consumer's `max_retries` + 1 in wrangler.toml. */
  policy?: DeliveryPolicy;
  /** Kinds tried fewer times or on another backoff (never more attempts than `policy`). */
  policies?: Readonly<Record<string, DeliveryPolicy>>;
  random?: () => number;
}

/**
 * The Worker's consumer of its own outbox Queue. Each message is handed to its kind's handler:
 * success acks it; a failure retries it after the backoff; a failure on the last attempt sends it
 * to the dead-letter queue (with its attempts) and logs kind, request id and attempts, never the
 * payload. Should that send fail, the message is retried once more, which makes the Queue move it
 * to its configured dead-letter queue: a message is never dropped. Either way the dead-letter
 * handler of its kind, if any, then runs.
 */
export async function consumeOutboxBatch(
  batch: QueueBatchLike,
  options: QueueConsumerOptions,
): Promise<void> {
  const queuePolicy = options.policy ?? DEFAULT_DELIVERY_POLICY;
  const random = options.random ?? Math.random;
  // One message at a time: a burst of audit records must not become a burst on Medplum.
  for (const message of batch.messages) {
    const envelope = asEnvelope(message.body);
    const handler = envelope ? options.handlers[envelope.kind] : undefined;
    const fields = { kind: envelope?.kind ?? 'unknown', ref: envelope?.ref, attempts: message.attempts };
    const own = envelope && options.policies && Object.hasOwn(options.policies, envelope.kind);
    const policy = own ? (options.policies?.[envelope.kind] as DeliveryPolicy) : queuePolicy;
    let error: string;
    try {
      if (!envelope || !handler) throw new UnknownMessageError();
      await handler(envelope.payload, { attempt: message.attempts });
      message.ack();
      continue;
    } catch (err) {
      error = errorName(err);
    }
    if (envelope && handler && message.attempts < policy.maxAttempts) {
      const delaySeconds = Math.ceil(retryDelayMs(message.attempts, policy, random) / 1000);
      options.logger.warn('outbox.retry', { ...fields, error, delaySeconds });
      message.retry({ delaySeconds });
      continue;
    }
    options.logger.error('outbox.dead-letter', { ...fields, error, queue: batch.queue });
    // Its sender told first: a settled message's dead letter keeps no payload, and is never left
    // to the Queue's own dead-letter queue (which would keep the whole message).
    const settled = envelope
      ? await afterDeadLetter(options.deadLetterHandlers, envelope, options.logger, {
          attempt: message.attempts,
          error,
        })
      : false;
    const letter = settled && envelope ? { ...envelope, payload: null } : envelope;
    await deadLetter(message, letter, error, options.deadLetters, options.logger, settled);
  }
}

async function deadLetter(
  message: QueueMessageLike,
  envelope: OutboxEnvelope | undefined,
  error: string,
  queue: QueueProducer | undefined,
  logger: Logger,
  /** Its sender has been told: dropped rather than left whole to the Queue's dead-letter queue. */
  settled = false,
): Promise<void> {
  if (queue) {
    const letter: DeadLetter = {
      ...(envelope ?? { kind: 'unknown', payload: message.body }),
      attempts: message.attempts,
      error,
    };
    try {
      await queue.send(letter, { contentType: 'json' });
      message.ack();
      return;
    } catch (err) {
      logger.error('outbox.dead-letter-failed', {
        kind: letter.kind,
        ref: letter.ref,
        error: errorName(err),
      });
    }
  }
  if (settled) message.ack();
  else message.retry();
}

/** A message the consumer cannot read, or of a kind it has no handler for. */
class UnknownMessageError extends Error {
  constructor() {
    super('An outbox message of no known kind');
    this.name = 'UnknownMessageError';
  }
}
