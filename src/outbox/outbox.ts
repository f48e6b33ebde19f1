import type { Logger } from '../logger.ts';

/**
 * The outbox: work that must happen after a response and must not be lost (audit records). A
 * message is stored durably before the response is sent, then handed to the handler for its kind
 * until the handler succeeds, with backoff between attempts and a bounded number of them; a
 * message that fails its last attempt is dead-lettered (kept, never dropped silently).
 * Delivery is at least once, so every handler must be idempotent.
 *
 * Two implementations: a SQLite table drained by a loop (Node, `sqlite-outbox.ts`) and a
 * Cloudflare Queue consumed by the Worker itself (`queue-outbox.ts`).
 */

/** What a message may carry besides its payload. */
export interface EnqueueOptions {
  /**
   * A label for logs (the request id): logs name a message by its kind and this, never by its
   * payload, which may hold patient data.
   */
  ref?: string;
  /**
   * Messages under one key are delivered in the order they were enqueued: a later one waits while
   * an earlier one is still to be delivered, whatever their retries' due times (queued referrals
   * under one identifier are written in the order they were accepted).
   */
  orderKey?: string;
}

/** Accepts work for later; resolved means stored durably. */
export interface Outbox {
  enqueue(kind: string, payload: unknown, options?: EnqueueOptions): void | Promise<void>;
  /** Messages delivered by this process, waiting, and dead-lettered, where the outbox can tell. */
  stats?(): OutboxStats;
}

/** Counts an outbox can report. */
export interface OutboxStats {
  delivered: number;
  pending: number;
  dead: number;
}

/** Which attempt at a message this is (from 1), where the outbox can tell. */
export interface AttemptInfo {
  attempt: number;
  /** For a dead-letter handler: the name of the error the last attempt failed with. */
  error?: string;
}

/** Does one message's work; a rejection means "try again later". Must be idempotent. */
export type OutboxHandler = (payload: unknown, info?: AttemptInfo) => Promise<void>;

/** The handler for each kind of message. */
export type OutboxHandlers = Readonly<Record<string, OutboxHandler>>;

/**
 * Runs the dead-letter handler of the message's kind, if it has one, once the message has been
 * dead-lettered: what its sender was waiting for can be told it will not come. Never rejects: a
 * failure is logged (kind, request id, error name) and the message stays dead-lettered. True
 * when a handler ran and succeeded: the message is then settled, and its dead letter need not
 * keep its payload (a queued referral's is personal data).
 */
export async function afterDeadLetter(
  handlers: OutboxHandlers | undefined,
  envelope: { kind: string; ref?: string | null; payload: unknown },
  logger: Logger,
  /** The attempts made, and what the last one failed with. */
  info?: AttemptInfo,
): Promise<boolean> {
  const handler = handlers && Object.hasOwn(handlers, envelope.kind) ? handlers[envelope.kind] : undefined;
  if (!handler) return false;
  try {
    await handler(envelope.payload, info);
    return true;
  } catch (err) {
    logger.error('outbox.dead-letter-handler-failed', {
      kind: envelope.kind,
      ref: envelope.ref ?? undefined,
      error: errorName(err),
    });
    return false;
  }
}

/** The message as stored or sent: its kind, its log label and its payload. */
export interface OutboxEnvelope {
  kind: string;
  ref?: string;
  payload: unknown;
}

/** How often and how patiently a message is tried. */
export interface DeliveryPolicy {
  /** Attempts before a message is dead-lettered. */
  maxAttempts: number;
  /** Delay after the first failed attempt; it doubles after each further one. */
  baseDelayMs: number;
  /** Longest delay between two attempts. */
  maxDelayMs: number;
}

/**
 * 20 attempts, 1 s doubling to at most 10 min apart: a message outlasts a Medplum outage of one
 * to two hours (the jitter decides) before it is dead-lettered.
 */
export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = {
  maxAttempts: 20,
  baseDelayMs: 1_000,
  maxDelayMs: 600_000,
};

/**
 * The wait after failed attempt `attempt` (from 1): exponential, capped, with "equal jitter"
 * (half fixed, half random) so that messages failed together do not all come back together.
 */
export function retryDelayMs(attempt: number, policy: DeliveryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The envelope of a stored or received message, or undefined when it is not one. */
export function asEnvelope(value: unknown): OutboxEnvelope | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, ref, payload } = value as Record<string, unknown>;
  if (typeof kind !== 'string' || (ref !== undefined && typeof ref !== 'string')) return undefined;
  return { kind, ...(ref === undefined ? {} : { ref }), payload };
}

/** The name of an error's class, for logs: never its message, which may quote content. */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
