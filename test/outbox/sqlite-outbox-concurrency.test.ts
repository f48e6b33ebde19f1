import { describe, expect, it } from 'vitest';
import type { DeliveryPolicy, OutboxHandler } from '../../src/outbox/outbox.ts';
import { SqliteOutbox } from '../../src/outbox/sqlite-outbox.ts';
import { openOutboxDatabase } from '../../src/outbox/sqlite-outbox-table.ts';
import { captureLogger } from '../support/app.ts';

// The Node outbox handling several messages at once (`concurrency`): one key's messages still one
// at a time and in order, a slow one holding up only its own slot, none started twice.

const POLICY: DeliveryPolicy = { maxAttempts: 4, baseDelayMs: 1_000, maxDelayMs: 3_000 };
const now = Date.parse('2026-11-20T09:00:00.000Z');
describe('an outbox handling several messages at once', () => {
  it('runs messages of different keys together, and one key’s one at a time, in order', async () => {
    const log: string[] = [];
    let inFlight = 0;
    let most = 0;
    const handler: OutboxHandler = async (payload) => {
      const { name } = payload as { name: string };
      inFlight++;
      most = Math.max(most, inFlight);
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, 20));
      log.push(`end ${name}`);
      inFlight--;
    };
    const make = (concurrency: number) =>
      new SqliteOutbox(openOutboxDatabase('memory'), {
        handlers: { audit: handler },
        logger: captureLogger(),
        policy: POLICY,
        now: () => now,
        concurrency,
      });
    const box = make(4);
    for (const key of ['a', 'b', 'c', 'd']) box.enqueue('audit', { name: `${key}1` }, { orderKey: key });
    box.enqueue('audit', { name: 'a2' }, { orderKey: 'a' });
    while ((await box.deliverDue()) > 0) {
      // Until everything due is delivered.
    }
    expect(most).toBe(4);
    // a2 starts only once a1 has ended.
    expect(log.indexOf('start a2')).toBeGreaterThan(log.indexOf('end a1'));
    expect(box.stats()).toMatchObject({ delivered: 5, pending: 0 });
    // One at a time, without the option.
    most = 0;
    const single = make(1);
    for (const key of ['e', 'f']) single.enqueue('audit', { name: key }, { orderKey: key });
    while ((await single.deliverDue()) > 0) {
      // As above.
    }
    expect(most).toBe(1);
  });
});

describe('the outbox loop with several messages at once', () => {
  it('never starts a message twice while it is in flight, though its claim lapses', async () => {
    let calls = 0;
    const box = new SqliteOutbox(openOutboxDatabase('memory'), {
      handlers: {
        audit: async () => {
          calls++;
          await new Promise((r) => setTimeout(r, 150));
        },
      },
      logger: captureLogger(),
      // The claim lapses after 10 ms, long before the handler ends.
      policy: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 20 },
      random: () => 0,
      concurrency: 4,
    });
    box.start();
    box.enqueue('audit', { name: 'slow' });
    await new Promise((r) => setTimeout(r, 400));
    await box.stop();
    expect(calls).toBe(1);
    expect(box.stats()).toMatchObject({ delivered: 1, pending: 0 });
  });

  it('goes on with other messages while one is slow', async () => {
    const done: string[] = [];
    const box = new SqliteOutbox(openOutboxDatabase('memory'), {
      handlers: {
        audit: async (payload) => {
          const { name } = payload as { name: string };
          await new Promise((r) => setTimeout(r, name === 'slow' ? 300 : 5));
          done.push(name);
        },
      },
      logger: captureLogger(),
      policy: POLICY,
      concurrency: 2,
    });
    box.start();
    box.enqueue('audit', { name: 'slow' });
    await new Promise((r) => setTimeout(r, 20));
    // Enqueued while the slow one is in flight.
    for (const name of ['a', 'b', 'c']) box.enqueue('audit', { name });
    await new Promise((r) => setTimeout(r, 150));
    // The quick ones are done while the slow one is still going.
    expect(done).toEqual(['a', 'b', 'c']);
    await box.stop();
    expect(done).toEqual(['a', 'b', 'c', 'slow']);
  });
});
