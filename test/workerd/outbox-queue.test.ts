import { createExecutionContext, createMessageBatch, env, getQueueResult, SELF } from 'cloudflare:test';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OUTBOX_QUEUE_POLICY } from '../../src/edge/outbox.ts';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';
import worker from '../../src/worker.ts';
import { tokenFor } from './token.ts';

const QUEUE = 'social-prescribing-outbox';

/** An outbox message as the Worker sends it for a request's AuditEvent. */
function auditMessage(requestId: string) {
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    meta: { tag: [{ system: OWN_SYSTEM.auditRecord, code: crypto.randomUUID() }] },
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    action: 'R',
    recorded: new Date().toISOString(),
    outcome: '0',
    agent: [
      {
        who: { identifier: { system: OWN_SYSTEM.client, value: 'riverside-medical-gp-system' } },
        requestor: true,
      },
    ],
    source: { observer: { display: 'Social prescribing FHIR facade' } },
    entity: [
      { what: { identifier: { system: OWN_SYSTEM.requestId, value: requestId } } },
      { what: { reference: 'Patient/p1' } },
    ],
  };
  return { kind: 'audit', ref: requestId, payload: event };
}

/** Runs the Worker's queue handler on one delivery of the message, as the Queue would. */
async function deliver(bindings: Record<string, unknown>, body: unknown, attempts: number) {
  const batch = createMessageBatch(QUEUE, [{ id: `msg-${attempts}`, timestamp: new Date(), attempts, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings, ctx);
  return getQueueResult(batch, ctx);
}

/** Bindings whose Medplum answers nothing, and whose dead-letter queue records what it is sent. */
function failingMedplum() {
  const deadLetters: unknown[] = [];
  const bindings = {
    ...env,
    MEDPLUM_BASE_URL: 'https://medplum-down.test/',
    LOG_LEVEL: 'info',
    OUTBOX_DEAD_LETTERS: {
      send: async (body: unknown) => {
        deadLetters.push(body);
      },
    },
  };
  return { bindings, deadLetters };
}

async function storedFor(requestId: string): Promise<AuditEvent[]> {
  const auditor = `Bearer ${await tokenFor('information-governance-audit', 'system/AuditEvent.rs')}`;
  const found = (await (
    await SELF.fetch('https://facade.test/fhir/AuditEvent?_count=100', {
      headers: { authorization: auditor },
    })
  ).json()) as Bundle<AuditEvent>;
  return (found.entry ?? [])
    .map((e) => e.resource as AuditEvent)
    .filter((e) => e.entity?.[0]?.what?.identifier?.value === requestId);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the audit outbox on a Cloudflare Queue', () => {
  it('retries a failing audit write from the queue, with backoff', async () => {
    const { bindings, deadLetters } = failingMedplum();
    const logs = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const first = await deliver(bindings, auditMessage('workerd-outbox-retry'), 1);
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toEqual([{ msgId: 'msg-1' }]);
    const fifth = await deliver(bindings, auditMessage('workerd-outbox-retry'), 5);
    expect(fifth.retryMessages).toEqual([{ msgId: 'msg-5' }]);
    expect(deadLetters).toEqual([]);
    // The test pool's batch does not report a retry's delay; the consumer logs it.
    const retries = logs.mock.calls
      .map(([line]) => String(line))
      .filter((l) => l.includes('outbox.retry'))
      .map((l) => JSON.parse(l) as { attempts: number; delaySeconds: number; ref: string });
    expect(retries.map((r) => [r.ref, r.attempts])).toEqual([
      ['workerd-outbox-retry', 1],
      ['workerd-outbox-retry', 5],
    ]);
    expect(retries[0]?.delaySeconds).toBe(1);
    expect(retries[1]?.delaySeconds).toBeGreaterThanOrEqual(8);
    expect(retries[1]?.delaySeconds).toBeLessThanOrEqual(16);
  });

  it('sends the message to the dead-letter queue after the last attempt, logging no patient data', async () => {
    const { bindings, deadLetters } = failingMedplum();
    const logs = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const message = auditMessage('workerd-outbox-dead');
    const result = await deliver(bindings, message, OUTBOX_QUEUE_POLICY.maxAttempts);
    expect(result.explicitAcks).toEqual([`msg-${OUTBOX_QUEUE_POLICY.maxAttempts}`]);
    expect(result.retryMessages).toEqual([]);
    expect(deadLetters).toEqual([
      { ...message, attempts: OUTBOX_QUEUE_POLICY.maxAttempts, error: 'UpstreamError' },
    ]);
    const lines = logs.mock.calls.map(([line]) => String(line));
    const dead = lines.filter((l) => l.includes('outbox.dead-letter')).map((l) => JSON.parse(l));
    expect(dead).toEqual([
      expect.objectContaining({
        level: 'error',
        kind: 'audit',
        ref: 'workerd-outbox-dead',
        attempts: OUTBOX_QUEUE_POLICY.maxAttempts,
      }),
    ]);
    expect(lines.join('\n')).not.toMatch(/Patient\/p1|riverside-medical-gp-system/);
  });

  it('writes a delivered record once, however often the queue delivers it', async () => {
    const message = auditMessage('workerd-outbox-once');
    const first = await deliver({ ...env }, message, 1);
    const again = await deliver({ ...env }, message, 2);
    expect([first.explicitAcks, again.explicitAcks]).toEqual([['msg-1'], ['msg-2']]);
    const stored = await storedFor('workerd-outbox-once');
    expect(stored).toHaveLength(1);
    expect(stored[0]?.entity?.map((e) => e.what?.reference).filter(Boolean)).toEqual(['Patient/p1']);
  });
});
