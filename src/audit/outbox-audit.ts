import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { OWN_SYSTEM } from '../fhir/systems.ts';
import type { Logger } from '../logger.ts';
import type { FhirStore } from '../medplum/store.ts';
import { errorName, type Outbox, type OutboxHandlers } from '../outbox/outbox.ts';
import type { AuditSink } from './audit-sink.ts';

/** The outbox message kind of an AuditEvent to write. */
export const AUDIT_KIND = 'audit';

const requestIdOf = (event: AuditEvent) => event.entity?.[0]?.what?.identifier?.value;

/** The event with its record tag: the key that makes its write happen once. */
function tagged(event: AuditEvent, key: string): AuditEvent {
  const tag = [...(event.meta?.tag ?? []), { system: OWN_SYSTEM.auditRecord, code: key }];
  return { ...event, meta: { ...event.meta, tag } };
}

/**
 * Writes an AuditEvent once however often it is delivered: a one-entry transaction whose create
 * is conditional (`ifNoneExist`) on the record tag. A second delivery finds the first one's
 * record and writes nothing; a store failure rejects, for the outbox to try again.
 */
export async function writeAuditEventOnce(store: FhirStore, event: AuditEvent): Promise<void> {
  const key = event.meta?.tag?.find((t) => t.system === OWN_SYSTEM.auditRecord)?.code;
  if (!key) {
    await store.create(event);
    return;
  }
  const response = await store.bundle({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        resource: event,
        request: {
          method: 'POST',
          url: 'AuditEvent',
          ifNoneExist: `_tag=${encodeURIComponent(`${OWN_SYSTEM.auditRecord}|${key}`)}`,
        },
      },
    ],
  } satisfies Bundle);
  const status = response.entry?.[0]?.response?.status ?? '';
  if (!status.startsWith('2')) throw new AuditWriteError(status);
}

/** The store answered the audit write with something other than success. */
export class AuditWriteError extends Error {
  constructor(status: string) {
    super(`The audit write was answered ${status || 'without a status'}`);
    this.name = 'AuditWriteError';
  }
}

/** The outbox handlers for audit records, writing to the store. */
export function auditHandlers(store: FhirStore): OutboxHandlers {
  return { [AUDIT_KIND]: (payload) => writeAuditEventOnce(store, payload as AuditEvent) };
}

export interface OutboxAuditSinkOptions {
  outbox: Outbox;
  /** Makes each record's key (a UUID). */
  newId: () => string;
  logger: Logger;
  /** Takes a record the outbox refused (it could not store it), so it is still written if it can be. */
  fallback: AuditSink;
}

/**
 * An AuditSink that hands each record to the outbox, durably, before the response goes: a
 * process killed or an isolate evicted afterwards loses nothing. Each record is tagged with a
 * key of its own, so redelivery never stores it twice. Should the outbox refuse a record, it is
 * logged and passed to the in-memory fallback.
 */
export function createOutboxAuditSink(options: OutboxAuditSinkOptions): AuditSink {
  const { outbox, logger, fallback } = options;
  return {
    async record(event) {
      const requestId = requestIdOf(event);
      try {
        await outbox.enqueue(AUDIT_KIND, tagged(event, options.newId()), requestId ? { ref: requestId } : {});
      } catch (err) {
        logger.error('audit.enqueue-failed', { requestId, error: errorName(err) });
        await fallback.record(event);
      }
    },
    // The outbox delivers by itself; only what the fallback took waits for a flush.
    flush: () => (fallback.stats().pending ? fallback.flush() : Promise.resolve()),
    stats() {
      const held = fallback.stats();
      const counts = outbox.stats?.();
      return {
        written: (counts?.delivered ?? 0) + held.written,
        pending: (counts?.pending ?? 0) + held.pending,
      };
    },
  };
}
