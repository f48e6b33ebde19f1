import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStoreAuditSink } from '../../src/audit/audit-sink.ts';
import {
  AUDIT_KIND,
  auditHandlers,
  createOutboxAuditSink,
  writeAuditEventOnce,
} from '../../src/audit/outbox-audit.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import type { EnqueueOptions, Outbox } from '../../src/outbox/outbox.ts';
import { SqliteOutbox } from '../../src/outbox/sqlite-outbox.ts';
import { openOutboxDatabase } from '../../src/outbox/sqlite-outbox-table.ts';
import { call, captureLogger, createTestApp } from '../support/app.ts';

const event = (requestId: string): AuditEvent => ({
  resourceType: 'AuditEvent',
  type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
  recorded: '2026-11-20T09:00:00.000Z',
  agent: [{ who: { display: 'test' }, requestor: true }],
  source: { observer: { display: 'test' } },
  entity: [{ what: { identifier: { system: OWN_SYSTEM.requestId, value: requestId } } }],
});

const tagOf = (e: AuditEvent) => e.meta?.tag?.find((t) => t.system === OWN_SYSTEM.auditRecord)?.code;

async function auditEvents(store: FhirStore): Promise<AuditEvent[]> {
  const found = (await store.search('AuditEvent', { _count: '100' })) as Bundle<AuditEvent>;
  return (found.entry ?? []).map((e) => e.resource as AuditEvent);
}

/** An outbox that only records what it is given. */
function recordingOutbox(fail = false) {
  const sent: { kind: string; payload: unknown; options?: EnqueueOptions }[] = [];
  const outbox: Outbox = {
    enqueue(kind, payload, options) {
      if (fail) throw new Error('disk full');
      sent.push({ kind, payload, ...(options ? { options } : {}) });
    },
  };
  return { outbox, sent };
}

beforeAll(() => indexDefinitions());

describe('audit records through the outbox', () => {
  it('writes a tagged AuditEvent once however often it is delivered', async () => {
    const { store } = createEmbeddedStore({ timeoutMs: 5_000 });
    const tagged = { ...event('req-1'), meta: { tag: [{ system: OWN_SYSTEM.auditRecord, code: 'k-1' }] } };
    await writeAuditEventOnce(store, tagged);
    await writeAuditEventOnce(store, tagged);
    await auditHandlers(store)[AUDIT_KIND]?.(JSON.parse(JSON.stringify(tagged)));
    const stored = await auditEvents(store);
    expect(stored).toHaveLength(1);
    expect(tagOf(stored[0] as AuditEvent)).toBe('k-1');
  });

  it('tags each record with a key of its own, names its request for logs, and never waits for the store', async () => {
    const { outbox, sent } = recordingOutbox();
    let n = 0;
    const sink = createOutboxAuditSink({
      outbox,
      newId: () => `key-${++n}`,
      logger: captureLogger(),
      fallback: createStoreAuditSink(createEmbeddedStore({ timeoutMs: 5_000 }).store, captureLogger()),
    });
    // The same request id twice (a replayed X-Request-ID) is two requests: two records.
    await sink.record(event('req-1'));
    await sink.record(event('req-1'));
    expect(sent.map((s) => [s.kind, s.options?.ref, tagOf(s.payload as AuditEvent)])).toEqual([
      ['audit', 'req-1', 'key-1'],
      ['audit', 'req-1', 'key-2'],
    ]);
    await sink.flush();
  });

  it('hands a record the outbox refused to the in-memory sink, and says so without content', async () => {
    const { store } = createEmbeddedStore({ timeoutMs: 5_000 });
    const logger = captureLogger();
    const sink = createOutboxAuditSink({
      outbox: recordingOutbox(true).outbox,
      newId: () => 'key',
      logger,
      fallback: createStoreAuditSink(store, logger),
    });
    await sink.record(event('req-refused'));
    expect(sink.stats()).toEqual({ written: 0, pending: 1 });
    await sink.flush();
    expect(sink.stats()).toEqual({ written: 1, pending: 0 });
    expect(await auditEvents(store)).toHaveLength(1);
    expect(logger.lines.some((l) => l.includes('audit.enqueue-failed') && l.includes('req-refused'))).toBe(
      true,
    );
  });

  it('stores each request’s record in the outbox before the response, and writes it once', async () => {
    const db = openOutboxDatabase('memory');
    let outbox: SqliteOutbox | undefined;
    const t = createTestApp(
      {},
      {
        auditFor: (store) => {
          outbox = new SqliteOutbox(db, { handlers: auditHandlers(store), logger: captureLogger() });
          return createOutboxAuditSink({
            outbox,
            newId: () => crypto.randomUUID(),
            logger: captureLogger(),
            fallback: createStoreAuditSink(store, captureLogger()),
          });
        },
      },
    );
    const box = outbox as SqliteOutbox;
    const response = await call(t.app, '/fhir/Organization', { headers: { 'x-request-id': 'req-app-1' } });
    expect(response.status).toBe(200);
    expect(box.stats()).toEqual({ delivered: 0, pending: 1, dead: 0 });
    expect(await auditEvents(t.store)).toHaveLength(0);
    await box.deliverDue();
    const stored = await auditEvents(t.store);
    expect(stored.map((e) => e.entity?.[0]?.what?.identifier?.value)).toEqual(['req-app-1']);
    db.close();
  });
});
