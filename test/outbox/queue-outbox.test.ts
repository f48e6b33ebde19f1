import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OUTBOX_BINDINGS, OUTBOX_QUEUE_POLICY } from '../../src/edge/outbox.ts';
import type { DeliveryPolicy } from '../../src/outbox/outbox.ts';
import {
  consumeOutboxBatch,
  createQueueOutbox,
  type QueueMessageLike,
  type QueueProducer,
} from '../../src/outbox/queue-outbox.ts';
import { captureLogger } from '../support/app.ts';

const POLICY: DeliveryPolicy = { maxAttempts: 3, baseDelayMs: 4_000, maxDelayMs: 60_000 };

/** A delivered message that records what the consumer did with it. */
function message(id: string, attempts: number, body: unknown) {
  const done: { acked: boolean; retried?: { delaySeconds?: number } } = { acked: false };
  const msg: QueueMessageLike = {
    id,
    attempts,
    body,
    ack: () => {
      done.acked = true;
    },
    retry: (options) => {
      done.retried = options ?? {};
    },
  };
  return { msg, done };
}

function producer(fail = false): QueueProducer & { sent: unknown[] } {
  const sent: unknown[] = [];
  return {
    sent,
    send: async (body) => {
      if (fail) throw new Error('queue unavailable');
      sent.push(body);
    },
  };
}

const patientData = { resourceType: 'AuditEvent', entity: [{ what: { reference: 'Patient/p1' } }] };

describe('the Workers outbox (Cloudflare Queue)', () => {
  it('sends an envelope of kind, request id and payload', async () => {
    const queue = producer();
    await createQueueOutbox(queue).enqueue('audit', { n: 1 }, { ref: 'req-1' });
    expect(queue.sent).toEqual([{ kind: 'audit', ref: 'req-1', payload: { n: 1 } }]);
  });

  it('acks what its handler did, and retries what failed after the backoff', async () => {
    const ok = message('m1', 1, { kind: 'audit', ref: 'req-1', payload: { n: 1 } });
    const failed = message('m2', 2, { kind: 'audit', ref: 'req-2', payload: { n: 2 } });
    const seen: unknown[] = [];
    const logger = captureLogger();
    await consumeOutboxBatch(
      { queue: 'outbox', messages: [ok.msg, failed.msg] },
      {
        handlers: {
          audit: async (payload) => {
            seen.push(payload);
            if ((payload as { n: number }).n === 2) throw new TypeError('store down');
          },
        },
        logger,
        policy: POLICY,
        random: () => 1,
      },
    );
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
    expect(ok.done).toEqual({ acked: true });
    // Second attempt failed: twice the base delay.
    expect(failed.done).toEqual({ acked: false, retried: { delaySeconds: 8 } });
    expect(logger.lines.map((l) => JSON.parse(l))).toEqual([
      {
        level: 'warn',
        event: 'outbox.retry',
        kind: 'audit',
        ref: 'req-2',
        attempts: 2,
        error: 'TypeError',
        delaySeconds: 8,
      },
    ]);
  });

  it('sends a message to the dead-letter queue after its last attempt, logging no payload', async () => {
    const last = message('m3', 3, { kind: 'audit', ref: 'req-3', payload: patientData });
    const dead = producer();
    const logger = captureLogger();
    await consumeOutboxBatch(
      { queue: 'outbox', messages: [last.msg] },
      {
        handlers: { audit: () => Promise.reject(new TypeError('store down')) },
        logger,
        policy: POLICY,
        deadLetters: dead,
      },
    );
    expect(last.done).toEqual({ acked: true });
    expect(dead.sent).toEqual([
      { kind: 'audit', ref: 'req-3', payload: patientData, attempts: 3, error: 'TypeError' },
    ]);
    expect(logger.lines.map((l) => JSON.parse(l))).toEqual([
      {
        level: 'error',
        event: 'outbox.dead-letter',
        kind: 'audit',
        ref: 'req-3',
        attempts: 3,
        error: 'TypeError',
        queue: 'outbox',
      },
    ]);
    expect(logger.lines.join('\n')).not.toContain('Patient/p1');
  });

  it('runs the dead-letter handler of the kind after the last attempt, whichever queue keeps it', async () => {
    const told: unknown[] = [];
    const options = (deadLetters: QueueProducer) => ({
      handlers: { job: () => Promise.reject(new TypeError('store down')) },
      deadLetterHandlers: {
        job: async (payload: unknown) => {
          told.push(payload);
        },
      },
      logger: captureLogger(),
      policy: POLICY,
      deadLetters,
    });
    const early = message('m7', 2, { kind: 'job', ref: 'req-7', payload: { jobId: 'j7' } });
    const last = message('m8', 3, { kind: 'job', ref: 'req-8', payload: { jobId: 'j8' } });
    const kept = producer();
    await consumeOutboxBatch({ queue: 'outbox', messages: [early.msg, last.msg] }, options(kept));
    expect(kept.sent).toEqual([
      expect.objectContaining({ kind: 'job', ref: 'req-8', payload: null, attempts: 3 }),
    ]);
    const unsent = message('m9', 3, { kind: 'job', ref: 'req-9', payload: { jobId: 'j9' } });
    await consumeOutboxBatch({ queue: 'outbox', messages: [unsent.msg] }, options(producer(true)));
    // Its sender told, a message is settled: its dead letter keeps no payload, and one that
    // cannot be sent is dropped rather than left whole to the Queue's own dead-letter queue.
    expect([early.done.retried !== undefined, last.done.acked, unsent.done.acked]).toEqual([
      true,
      true,
      true,
    ]);
    expect(told).toEqual([{ jobId: 'j8' }, { jobId: 'j9' }]);
  });

  it('leaves a dead letter to the Queue when it cannot send it, and dead-letters unknown kinds at once', async () => {
    const last = message('m4', 3, { kind: 'audit', ref: 'req-4', payload: {} });
    await consumeOutboxBatch(
      { queue: 'outbox', messages: [last.msg] },
      {
        handlers: { audit: () => Promise.reject(new Error('store down')) },
        logger: captureLogger(),
        policy: POLICY,
        deadLetters: producer(true),
      },
    );
    // A retry of the last delivery: the Queue moves it to its dead-letter queue itself.
    expect(last.done).toEqual({ acked: false, retried: {} });
    const unknown = message('m5', 1, { kind: 'mystery', payload: {} });
    const garbage = message('m6', 1, 'not an envelope');
    const working = producer();
    await consumeOutboxBatch(
      { queue: 'outbox', messages: [unknown.msg, garbage.msg] },
      { handlers: {}, logger: captureLogger(), policy: POLICY, deadLetters: working },
    );
    expect([unknown.done, garbage.done]).toEqual([{ acked: true }, { acked: true }]);
    expect(working.sent).toEqual([
      { kind: 'mystery', payload: {}, attempts: 1, error: 'UnknownMessageError' },
      { kind: 'unknown', payload: 'not an envelope', attempts: 1, error: 'UnknownMessageError' },
    ]);
  });

  it('counts attempts as wrangler.toml configures the Queue: the last one counted is the last one made', () => {
    const toml = readFileSync(new URL('../../wrangler.toml', import.meta.url), 'utf8');
    const blocks = toml.split(/^\[\[/m).slice(1);
    const field = (block: string, name: string) =>
      new RegExp(`^${name}\\s*=\\s*"?([^"\\n]+)"?`, 'm').exec(block)?.[1];
    const producers = blocks.filter((b) => b.startsWith('queues.producers]]'));
    const queueOf = (binding: string) => producers.find((b) => field(b, 'binding') === binding);
    const consumer = blocks.find((b) => b.startsWith('queues.consumers]]')) ?? '';
    const outbox = field(queueOf(OUTBOX_BINDINGS.queue) ?? '', 'queue');
    const deadLetters = field(queueOf(OUTBOX_BINDINGS.deadLetters) ?? '', 'queue');
    expect(outbox).toBeDefined();
    expect(field(consumer, 'queue')).toBe(outbox);
    expect(field(consumer, 'dead_letter_queue')).toBe(deadLetters);
    expect(Number(field(consumer, 'max_retries')) + 1).toBe(OUTBOX_QUEUE_POLICY.maxAttempts);
  });
});
