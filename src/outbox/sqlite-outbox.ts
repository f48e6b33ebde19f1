import type { DatabaseSync } from 'node:sqlite';
import type { Logger } from '../logger.ts';
import {
  afterDeadLetter,
  DEFAULT_DELIVERY_POLICY,
  type DeliveryPolicy,
  type EnqueueOptions,
  errorName,
  type Outbox,
  type OutboxHandlers,
  type OutboxStats,
  retryDelayMs,
} from './outbox.ts';
import { type DeadLetterRow, type OutboxRow, OutboxTable } from './sqlite-outbox-table.ts';

export interface SqliteOutboxOptions {
  handlers: OutboxHandlers;
  /** The table its messages are kept in (default `outbox`); each outbox drains its own. */
  table?: string;
  /** Run for a message of their kind once it is dead-lettered (see afterDeadLetter). */
  deadLetterHandlers?: OutboxHandlers;
  logger: Logger;
  policy?: DeliveryPolicy;
  now?: () => number;
  random?: () => number;
  /** Messages read per look at the table (default 50). */
  batchSize?: number;
  /**
   * Messages handled at once (default 1). A look at the table finds at most one message per order
   * key (the earliest live one), so messages handled together never share a key, and order holds.
   */
  concurrency?: number;
  /**
   * Tests only: how long a delivered message waits before it is marked delivered, so that a test
   * can kill the process between a handler's write and its acknowledgement (default 0).
   */
  ackDelayMs?: number;
}

/** Longest a timer may wait in Node (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The Node outbox: a table in SQLite, written synchronously by `enqueue` (so a message is on
 * disk before the response that caused it is sent) and drained by one loop, `concurrency` messages
 * at a time (one by default). An attempt is
 * counted, and its retry scheduled, before the handler runs: a process killed mid-attempt tries
 * again after the backoff, and a message that keeps killing the process still runs out of
 * attempts. Success deletes the message; the last failure marks it dead and keeps it, then runs
 * the dead-letter handler of its kind, if any.
 */
export class SqliteOutbox implements Outbox {
  private readonly table: OutboxTable;
  private readonly options: SqliteOutboxOptions;
  private readonly policy: DeliveryPolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private delivered = 0;
  private running: Promise<void> | undefined;
  private stopped = true;
  private wakeUp: (() => void) | undefined;
  private readonly inFlight = new Map<number, Promise<void>>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(db: DatabaseSync, options: SqliteOutboxOptions) {
    this.table = new OutboxTable(db, options.table);
    this.options = options;
    this.policy = options.policy ?? DEFAULT_DELIVERY_POLICY;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  enqueue(kind: string, payload: unknown, options: EnqueueOptions = {}): void {
    this.table.insert(kind, options.ref, JSON.stringify(payload), this.now(), options.orderKey);
    this.wake();
  }

  stats(): OutboxStats {
    return { delivered: this.delivered, ...this.table.counts() };
  }

  /** Messages that used up their attempts, oldest first. */
  deadLetters(): DeadLetterRow[] {
    return this.table.deadLetters();
  }

  /** Starts the loop: what is due now is delivered at once, the rest when it falls due. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const { pending, dead } = this.table.counts();
    if (pending || dead) this.options.logger.info('outbox.resumed', { pending, dead });
    this.running = this.loop();
  }

  /** Stops the loop after the deliveries in progress, if any; what is left stays for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.running;
    this.running = undefined;
  }

  /**
   * Delivers the messages due now (at most one per order key, the earliest), once each, without
   * the loop (tests): with `concurrency`, that many at once.
   */
  async deliverDue(): Promise<number> {
    const rows = this.table.due(this.now(), this.options.batchSize ?? 50);
    let next = 0;
    const worker = async () => {
      while (next < rows.length) await this.deliver(rows[next++] as OutboxRow);
    };
    await Promise.all(Array.from({ length: Math.min(this.slots(), rows.length) }, worker));
    return rows.length;
  }

  private slots(): number {
    return Math.max(1, this.options.concurrency ?? 1);
  }

  /**
   * Starts a delivery of each due message while fewer than `concurrency` are in flight; one slow
   * to finish holds only its own slot (and the messages under its order key).
   */
  private launchDue(): void {
    while (this.inFlight.size < this.slots() && !this.stopped) {
      // One still in flight may be due again (its claim lapses after the backoff, for a process
      // killed mid-attempt): it is not started twice.
      const row = this.table.due(this.now(), this.inFlight.size + 1).find((r) => !this.inFlight.has(r.seq));
      if (!row) return;
      const delivery: Promise<void> = this.deliver(row)
        .catch((err) => this.options.logger.error('outbox.failed', { error: errorName(err) }))
        .finally(() => {
          this.inFlight.delete(row.seq);
          this.wake();
        });
      this.inFlight.set(row.seq, delivery);
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        this.launchDue();
      } catch (err) {
        // The table itself failed (disk full, database closed): wait and look again.
        this.options.logger.error('outbox.failed', { error: errorName(err) });
        await this.idle(this.policy.baseDelayMs);
        continue;
      }
      // Woken by a message enqueued, a delivery finished, or the next one falling due.
      const next = this.inFlight.size >= this.slots() ? undefined : this.table.nextDueAt();
      await this.idle(next === undefined ? MAX_TIMER_MS : next - this.now());
    }
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Waits until `ms` have passed, a message is enqueued, or the loop is stopped. */
  private idle(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wakeUp = resolve;
      // A timer must not keep a process alive that has nothing else to do.
      this.timer = setTimeout(resolve, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
      this.timer.unref?.();
    }).finally(() => {
      clearTimeout(this.timer);
      this.wakeUp = undefined;
    });
  }

  private wake(): void {
    this.wakeUp?.();
  }

  private async afterDeadLetter(row: OutboxRow, info: { attempt: number; error: string }): Promise<void> {
    const envelope = { kind: row.kind, ref: row.ref, payload: undefined as unknown };
    try {
      envelope.payload = JSON.parse(row.payload);
    } catch {
      return;
    }
    if (await afterDeadLetter(this.options.deadLetterHandlers, envelope, this.options.logger, info)) {
      this.table.settle(row.seq);
    }
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const { logger, handlers } = this.options;
    const fields = { kind: row.kind, ref: row.ref ?? undefined };
    const attempts = row.attempts + 1;
    const handler = handlers[row.kind];
    // Started before and never finished: the process died during the last attempt it had.
    if (attempts > this.policy.maxAttempts || !handler) {
      const error = handler ? 'interrupted' : 'unknown-kind';
      this.table.dead(row.seq, this.now(), error);
      logger.error('outbox.dead-letter', { ...fields, attempts: row.attempts });
      await this.afterDeadLetter(row, { attempt: row.attempts, error });
      return;
    }
    const started = this.now();
    const delayMs = retryDelayMs(attempts, this.policy, this.random);
    this.table.claim(row.seq, attempts, started + delayMs);
    try {
      await handler(JSON.parse(row.payload), { attempt: attempts });
    } catch (err) {
      const error = errorName(err);
      if (attempts >= this.policy.maxAttempts) {
        this.table.dead(row.seq, this.now(), error);
        logger.error('outbox.dead-letter', { ...fields, attempts, error });
        await this.afterDeadLetter(row, { attempt: attempts, error });
      } else {
        this.table.failed(row.seq, error);
        logger.warn('outbox.retry', { ...fields, attempts, error, delayMs });
      }
      return;
    }
    if (this.options.ackDelayMs) await new Promise((r) => setTimeout(r, this.options.ackDelayMs));
    this.table.remove(row.seq);
    this.delivered++;
    logger.debug('outbox.delivered', { ...fields, attempts, ms: this.now() - started });
  }
}
