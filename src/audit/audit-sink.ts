import type { AuditEvent } from '@medplum/fhirtypes';
import type { Logger } from '../logger.ts';
import type { FhirStore } from '../medplum/store.ts';

/**
 * Where AuditEvents go. `record` never waits for the store (an outbox's durable enqueue at most);
 * `flush` writes what is queued in memory.
 */
export interface AuditSink {
  record(event: AuditEvent): void | Promise<void>;
  /** Resolves once everything queued has been written or has used up its attempts. */
  flush(): Promise<void>;
  /** Events written, and events still queued after failed attempts. */
  stats(): { written: number; pending: number };
}

export interface AuditSinkOptions {
  /** Attempts per flush before an event waits for the next one (default 3). */
  attempts?: number;
  /** Delay before the second attempt, doubling after (default 200 ms). */
  backoffMs?: number;
  /** Most events kept waiting; beyond it the oldest are dropped, loudly (default 10,000). */
  maxPending?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Writes AuditEvents to the FHIR store off the response path: a request's response never waits
 * for its audit record. A failed write is retried with backoff; an event that still fails stays
 * queued and is retried on the next flush (the next audited request), and each failure is logged
 * (request id and error class, no content), so a record is never dropped silently.
 */
export function createStoreAuditSink(
  store: FhirStore,
  logger: Logger,
  options: AuditSinkOptions = {},
): AuditSink {
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 200;
  const maxPending = options.maxPending ?? 10_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const queue: AuditEvent[] = [];
  let written = 0;
  let inFlight = 0;
  let running: Promise<void> | undefined;

  const requestIdOf = (event: AuditEvent) => event.entity?.[0]?.what?.identifier?.value;

  async function writeOne(event: AuditEvent): Promise<boolean> {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await store.create(event);
        written++;
        return true;
      } catch (err) {
        logger.warn('audit.write-failed', {
          requestId: requestIdOf(event),
          attempt,
          error: err instanceof Error ? err.name : typeof err,
        });
        if (attempt < attempts) await sleep(backoffMs * 2 ** (attempt - 1));
      }
    }
    return false;
  }

  async function drain(): Promise<void> {
    const batch = queue.splice(0);
    inFlight = batch.length;
    const failed: AuditEvent[] = [];
    for (const event of batch) {
      if (!(await writeOne(event))) failed.push(event);
      inFlight--;
    }
    if (failed.length) {
      queue.unshift(...failed);
      logger.error('audit.pending', { pending: queue.length });
    }
  }

  return {
    record(event) {
      queue.push(event);
      if (queue.length > maxPending) {
        const dropped = queue.splice(0, queue.length - maxPending);
        logger.error('audit.dropped', {
          count: dropped.length,
          requestIds: dropped.map(requestIdOf).join(' '),
        });
      }
    },
    flush() {
      running ??= (async () => {
        try {
          while (queue.length) {
            const before = queue.length;
            await drain();
            if (queue.length >= before) break;
          }
        } finally {
          running = undefined;
        }
      })();
      return running;
    },
    stats: () => ({ written, pending: queue.length + inFlight }),
  };
}
