import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryPolicy, OutboxHandler } from '../../src/outbox/outbox.ts';
import { retryDelayMs } from '../../src/outbox/outbox.ts';
import { SqliteOutbox } from '../../src/outbox/sqlite-outbox.ts';
import { OutboxInUseError, openOutboxDatabase } from '../../src/outbox/sqlite-outbox-table.ts';
import { captureLogger } from '../support/app.ts';

const POLICY: DeliveryPolicy = { maxAttempts: 4, baseDelayMs: 1_000, maxDelayMs: 3_000 };

let dir: string;
const open: DatabaseSync[] = [];
let now: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sp-outbox-'));
  now = Date.parse('2026-11-20T09:00:00.000Z');
});

afterEach(() => {
  for (const db of open.splice(0)) if (db.isOpen) db.close();
  rmSync(dir, { recursive: true, force: true });
});

function database(): DatabaseSync {
  const db = openOutboxDatabase({ dir });
  open.push(db);
  return db;
}

/** An outbox on the test's directory with a hand-moved clock and no jitter (the ceiling, always). */
function outbox(handler: OutboxHandler, db = database(), policy = POLICY) {
  const logger = captureLogger();
  const box = new SqliteOutbox(db, {
    handlers: { audit: handler },
    logger,
    policy,
    now: () => now,
    random: () => 1,
  });
  return { box, logger, db };
}

const failing: OutboxHandler = async () => {
  throw new TypeError('store down');
};

describe('the Node outbox (SQLite)', () => {
  it('backs off exponentially, capped, with jitter of at most half the delay', () => {
    expect([1, 2, 3, 4, 10].map((n) => retryDelayMs(n, POLICY, () => 1))).toEqual([
      1_000, 2_000, 3_000, 3_000, 3_000,
    ]);
    expect(retryDelayMs(2, POLICY, () => 0)).toBe(1_000);
  });

  it('delivers messages under one order key in the order enqueued, whatever their retries’ due times', async () => {
    const seen: string[] = [];
    let firstFails = true;
    const { box, db } = outbox(async (payload) => {
      const name = (payload as { name: string }).name;
      if (name === 'first' && firstFails) {
        firstFails = false;
        throw new TypeError('store down');
      }
      seen.push(name);
    });
    box.enqueue('audit', { name: 'first' }, { orderKey: 'B99901|sys|R-1' });
    box.enqueue('audit', { name: 'second' }, { orderKey: 'B99901|sys|R-1' });
    box.enqueue('audit', { name: 'other' }, { orderKey: 'B99901|sys|R-2' });
    box.enqueue('audit', { name: 'unkeyed' });
    await box.deliverDue();
    // The first failed and waits for its retry; the second waits behind it; the others go.
    expect(seen).toEqual(['other', 'unkeyed']);
    await box.deliverDue();
    expect(seen).toEqual(['other', 'unkeyed']);
    // After a restart (the same table, a new outbox) the order still holds.
    await box.stop();
    const again = outbox(async (payload) => {
      seen.push((payload as { name: string }).name);
    }, db);
    now += 60_000;
    await again.box.deliverDue();
    await again.box.deliverDue();
    expect(seen).toEqual(['other', 'unkeyed', 'first', 'second']);
  });

  it('takes a table made before messages had an order key, adding the column', () => {
    const db = database();
    db.exec('DROP TABLE IF EXISTS outbox');
    db.exec(
      'CREATE TABLE outbox (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, ref TEXT, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL, dead_at INTEGER, last_error TEXT)',
    );
    db.exec(`INSERT INTO outbox (kind, payload, due_at) VALUES ('audit', '{"name":"old"}', ${now})`);
    const seen: unknown[] = [];
    const { box } = outbox(async (payload) => {
      seen.push(payload);
    }, db);
    box.enqueue('audit', { name: 'new' }, { orderKey: 'k' });
    return box.deliverDue().then(() => expect(seen).toEqual([{ name: 'old' }, { name: 'new' }]));
  });

  it('delivers messages oldest first, once each, and forgets them once delivered', async () => {
    const seen: unknown[] = [];
    const { box } = outbox(async (payload) => {
      seen.push(payload);
    });
    box.enqueue('audit', { n: 1 }, { ref: 'req-1' });
    box.enqueue('audit', { n: 2 }, { ref: 'req-2' });
    expect(box.stats()).toEqual({ delivered: 0, pending: 2, dead: 0 });
    expect(await box.deliverDue()).toBe(2);
    expect(await box.deliverDue()).toBe(0);
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
    expect(box.stats()).toEqual({ delivered: 2, pending: 0, dead: 0 });
  });

  it('tries a failed message again only once its backoff has passed', async () => {
    let calls = 0;
    const { box, logger } = outbox(async () => {
      if (++calls <= 2) throw new TypeError('store down');
    });
    box.enqueue('audit', { n: 1 }, { ref: 'req-1' });
    await box.deliverDue();
    now += 999;
    expect(await box.deliverDue()).toBe(0);
    now += 1;
    expect(await box.deliverDue()).toBe(1);
    // Second failure: twice the delay.
    now += 1_999;
    expect(await box.deliverDue()).toBe(0);
    now += 1;
    await box.deliverDue();
    expect(calls).toBe(3);
    expect(box.stats()).toEqual({ delivered: 1, pending: 0, dead: 0 });
    const retries = logger.lines.filter((l) => l.includes('outbox.retry')).map((l) => JSON.parse(l));
    expect(retries).toEqual([
      {
        level: 'warn',
        event: 'outbox.retry',
        kind: 'audit',
        ref: 'req-1',
        attempts: 1,
        error: 'TypeError',
        delayMs: 1_000,
      },
      {
        level: 'warn',
        event: 'outbox.retry',
        kind: 'audit',
        ref: 'req-1',
        attempts: 2,
        error: 'TypeError',
        delayMs: 2_000,
      },
    ]);
  });

  it('dead-letters a message after its last attempt, keeps it, and logs no payload', async () => {
    const { box, logger } = outbox(failing);
    box.enqueue('audit', { name: 'Amir Rahman', nhsNumber: '9990000034' }, { ref: 'req-dead' });
    for (let i = 0; i < 10; i++) {
      await box.deliverDue();
      now += 10_000;
    }
    expect(box.stats()).toEqual({ delivered: 0, pending: 0, dead: 1 });
    const [letter] = box.deadLetters();
    expect(letter).toMatchObject({ kind: 'audit', ref: 'req-dead', attempts: 4, lastError: 'TypeError' });
    expect(JSON.parse(letter?.payload ?? '')).toEqual({ name: 'Amir Rahman', nhsNumber: '9990000034' });
    const dead = logger.lines.filter((l) => l.includes('outbox.dead-letter'));
    expect(dead.map((l) => JSON.parse(l))).toEqual([
      {
        level: 'error',
        event: 'outbox.dead-letter',
        kind: 'audit',
        ref: 'req-dead',
        attempts: 4,
        error: 'TypeError',
      },
    ]);
    expect(logger.lines.join('\n')).not.toMatch(/Amir|9990000034/);
  });

  it('runs the dead-letter handler of the kind once, after the last attempt, and logs its failure by name', async () => {
    const db = database();
    const told: unknown[] = [];
    const logger = captureLogger();
    const box = new SqliteOutbox(db, {
      handlers: { audit: failing, other: failing },
      deadLetterHandlers: {
        audit: async (payload) => {
          told.push(payload);
        },
        other: async () => {
          throw new RangeError('job store down');
        },
      },
      logger,
      policy: POLICY,
      now: () => now,
      random: () => 1,
    });
    box.enqueue('audit', { jobId: 'j1' }, { ref: 'req-a' });
    box.enqueue('other', { jobId: 'j2' }, { ref: 'req-b' });
    for (let i = 0; i < 3; i++) {
      await box.deliverDue();
      now += 10_000;
    }
    expect(told).toEqual([]);
    await box.deliverDue();
    await box.deliverDue();
    expect(told).toEqual([{ jobId: 'j1' }]);
    expect(box.stats()).toEqual({ delivered: 0, pending: 0, dead: 2 });
    // The one whose sender was told keeps no payload; the other keeps it, to be sent again.
    expect(box.deadLetters().map((row) => [row.kind, JSON.parse(row.payload)])).toEqual([
      ['audit', null],
      ['other', { jobId: 'j2' }],
    ]);
    expect(logger.lines.filter((l) => l.includes('dead-letter-handler')).map((l) => JSON.parse(l))).toEqual([
      {
        level: 'error',
        event: 'outbox.dead-letter-handler-failed',
        kind: 'other',
        ref: 'req-b',
        error: 'RangeError',
      },
    ]);
  });

  it('dead-letters a message of a kind it has no handler for at once', async () => {
    const { box } = outbox(async () => undefined);
    box.enqueue('mystery', {});
    await box.deliverDue();
    expect(box.stats()).toEqual({ delivered: 0, pending: 0, dead: 1 });
    expect(box.deadLetters()[0]?.lastError).toBe('unknown-kind');
  });

  it('keeps undelivered messages across a restart, and refuses a second process', async () => {
    const first = outbox(failing);
    first.box.enqueue('audit', { n: 1 }, { ref: 'req-1' });
    first.box.enqueue('audit', { n: 2 }, { ref: 'req-2' });
    await first.box.deliverDue();
    expect(() => openOutboxDatabase({ dir })).toThrow(OutboxInUseError);
    first.db.close();

    const seen: unknown[] = [];
    const second = outbox(async (payload) => {
      seen.push(payload);
    });
    expect(second.box.stats()).toEqual({ delivered: 0, pending: 2, dead: 0 });
    // Their failed attempts still count: nothing is due before the backoff.
    expect(await second.box.deliverDue()).toBe(0);
    now += 1_000;
    expect(await second.box.deliverDue()).toBe(2);
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('tries again after a restart a message whose attempt the process died in, counting that attempt', async () => {
    const first = outbox(() => new Promise<void>(() => {}));
    first.box.enqueue('audit', { n: 1 }, { ref: 'req-1' });
    void first.box.deliverDue();
    // The process dies mid-attempt: the handler never finishes.
    first.db.close();

    const second = outbox(async () => undefined);
    expect(second.box.stats()).toEqual({ delivered: 0, pending: 1, dead: 0 });
    // The attempt was counted when it started, and its retry scheduled after the backoff.
    expect(await second.box.deliverDue()).toBe(0);
    now += 1_000;
    expect(await second.box.deliverDue()).toBe(1);
    expect(second.box.stats()).toEqual({ delivered: 1, pending: 0, dead: 0 });
  });

  it('dead-letters a message whose last attempt the process died in', async () => {
    const db = database();
    const first = outbox(failing, db);
    first.box.enqueue('audit', { n: 1 }, { ref: 'req-1' });
    for (let i = 0; i < 3; i++) {
      await first.box.deliverDue();
      now += 10_000;
    }
    const hang = outbox(() => new Promise<void>(() => {}), db);
    void hang.box.deliverDue();
    db.close();

    const second = outbox(async () => undefined);
    now += 10_000;
    await second.box.deliverDue();
    expect(second.box.stats()).toEqual({ delivered: 0, pending: 0, dead: 1 });
    expect(second.box.deadLetters()[0]).toMatchObject({ attempts: 4, lastError: 'interrupted' });
  });

  it('runs as a loop: woken by enqueue, retried by timer, stopped after the delivery in flight', async () => {
    let calls = 0;
    let delivered: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      delivered = resolve;
    });
    const logger = captureLogger();
    const box = new SqliteOutbox(database(), {
      handlers: {
        audit: async () => {
          if (++calls === 1) throw new Error('store down');
          delivered();
        },
      },
      logger,
      policy: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 20 },
    });
    box.start();
    box.enqueue('audit', { n: 1 });
    await done;
    await box.stop();
    expect(calls).toBe(2);
    expect(box.stats()).toEqual({ delivered: 1, pending: 0, dead: 0 });
    // Stopped: a new message waits for the next start.
    box.enqueue('audit', { n: 2 });
    await new Promise((r) => setTimeout(r, 30));
    expect(box.stats().pending).toBe(1);
  });
});

describe('the outbox table', () => {
  it('names as next due only a message that may go: one held behind its key waits for the one before', async () => {
    const { OutboxTable } = await import('../../src/outbox/sqlite-outbox-table.ts');
    const table = new OutboxTable(openOutboxDatabase('memory'));
    table.insert('audit', undefined, '{}', 5_000, 'k');
    table.insert('audit', undefined, '{}', 1_000, 'k');
    // The second is due first by its time, but held: the next due is the first's.
    expect(table.nextDueAt()).toBe(5_000);
    table.insert('audit', undefined, '{}', 2_000, 'other');
    expect(table.nextDueAt()).toBe(2_000);
  });
});
