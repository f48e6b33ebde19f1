import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { UpstreamError } from '../../src/medplum/errors.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { ASYNC_JOB_PENDING_LIMIT_MS, ASYNC_JOB_TTL_MS } from '../../src/outbox/async-jobs.ts';
import type { Outbox } from '../../src/outbox/outbox.ts';
import { SqliteAsyncJobs } from '../../src/outbox/sqlite-async-jobs.ts';
import { SqliteOutbox } from '../../src/outbox/sqlite-outbox.ts';
import { openOutboxDatabase } from '../../src/outbox/sqlite-outbox-table.ts';
import { createInProcessLocks } from '../../src/referrals/locks.ts';
import { asyncIntakeDeadLetterHandlers, asyncIntakeHandlers } from '../../src/routes/async-referrals.ts';
import { captureLogger } from '../support/app.ts';
import { all, exampleBody } from '../support/referrals.ts';
import { BASE, COMMUNITY, GP, SP, securedApp } from '../support/secured.ts';

const ASYNC = { prefer: 'respond-async' };

/** A store that answers as Medplum does while `down` is false, and is unavailable while it is true. */
function switchableStore(inner: FhirStore): FhirStore & { down: boolean } {
  const wrapper = { down: false } as FhirStore & { down: boolean };
  for (const name of [
    'read',
    'readVersion',
    'history',
    'search',
    'create',
    'update',
    'delete',
    'bundle',
    'ping',
  ] as const) {
    (wrapper as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      if (wrapper.down) return Promise.reject(new UpstreamError('unavailable'));
      return (inner[name] as (...a: unknown[]) => Promise<unknown>).apply(inner, args);
    };
  }
  return wrapper;
}

/**
 * The secured app with async jobs and an outbox drained by hand (no loop), retrying at once. The
 * jobs' clock is moved by hand (`jobClock.now`).
 */
async function asyncApp(maxAttempts = 20, wrap: (outbox: Outbox) => Outbox = (o) => o) {
  const store = switchableStore(createEmbeddedStore({ timeoutMs: 5_000 }).store);
  const db = openOutboxDatabase('memory');
  const jobClock = { now: Date.now() };
  const jobs = new SqliteAsyncJobs(db, () => jobClock.now);
  const locks = createInProcessLocks();
  const handlers: Parameters<typeof asyncIntakeHandlers> = [
    { store, locks, clock: () => s.now(), newId: () => crypto.randomUUID() },
    jobs,
    () => s.audit,
  ];
  const logger = captureLogger();
  const outbox = new SqliteOutbox(db, {
    handlers: asyncIntakeHandlers(...handlers),
    deadLetterHandlers: asyncIntakeDeadLetterHandlers(jobs),
    logger,
    policy: { maxAttempts, baseDelayMs: 0, maxDelayMs: 0 },
  });
  const s = await securedApp({}, { store, locks, asyncIntake: { jobs, outbox: wrap(outbox) } });
  const gp = await s.token(GP, 'system/ServiceRequest.crs system/*.rs');
  return { s, store, outbox, gp, jobClock, logger };
}

const pathOf = (response: Response) => (response.headers.get('content-location') ?? '').slice(BASE.length);

describe('Prefer: respond-async on referral intake', () => {
  it('answers 202 with a status location, pending until worked, then the transaction-response', async () => {
    const { s, outbox, gp } = await asyncApp();
    const sent = await s.as(gp, '/fhir', {
      body: exampleBody('01-gp-transaction-bundle.200'),
      headers: ASYNC,
    });
    expect(sent.status).toBe(202);
    expect(sent.headers.get('content-location')).toMatch(
      /^http:\/\/facade\.test\/fhir\/_async\/[0-9a-f-]{36}$/,
    );
    expect(((await sent.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');

    const pending = await s.as(gp, pathOf(sent));
    expect(pending.status).toBe(202);
    expect(pending.headers.get('retry-after')).toBeTruthy();

    expect(await outbox.deliverDue()).toBe(1);
    const done = await s.as(gp, pathOf(sent));
    expect(done.status).toBe(200);
    expect(done.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const bundle = (await done.json()) as Bundle;
    expect(bundle.type).toBe('transaction-response');
    expect(bundle.entry?.some((e) => e.response?.status === '201 Created')).toBe(true);
    // The same answer as a later synchronous send of the same referral gets, bar its statuses.
    const again = await s.as(gp, '/fhir', { body: exampleBody('01-gp-transaction-bundle.200') });
    expect(again.status).toBe(200);
    const locations = ((await again.json()) as Bundle).entry?.map((e) => e.response?.location);
    expect(bundle.entry?.map((e) => e.response?.location)).toEqual(locations);
  });

  it('records the write itself in an AuditEvent naming what it stored, besides the accepting request', async () => {
    const { s, outbox, gp } = await asyncApp();
    const sent = await s.as(gp, '/fhir', {
      body: exampleBody('01-gp-transaction-bundle.200'),
      headers: ASYNC,
    });
    expect(sent.status).toBe(202);
    await outbox.deliverDue();
    await s.audit.flush();
    const events = await all<AuditEvent>(s.store, 'AuditEvent');
    const writes = events.filter((e) => e.subtype?.[0]?.code === 'transaction' && e.outcome === '0');
    const named = writes.flatMap((e) => (e.entity ?? []).map((x) => x.what?.reference ?? ''));
    expect(named.some((r) => r.startsWith('ServiceRequest/'))).toBe(true);
    expect(named.some((r) => r.startsWith('Task/'))).toBe(true);
    // Attributed to the client that sent it, under the accepting request's id.
    const accepted = events.find((e) => e.outcomeDesc === 'HTTP 202');
    expect(writes[0]?.agent?.[0]?.who).toEqual(accepted?.agent?.[0]?.who);
    expect(JSON.stringify(writes)).not.toContain('9990000018');
  });

  it('works the plain JSON form too, keeping its 201 and Location', async () => {
    const { s, outbox } = await asyncApp();
    const community = await s.token(COMMUNITY, 'system/ServiceRequest.c');
    const sent = await s.as(community, '/referrals', {
      body: exampleBody('04-plain-json-referral.201'),
      headers: { ...ASYNC, 'content-type': 'application/json' },
    });
    expect(sent.status).toBe(202);
    await outbox.deliverDue();
    const done = await s.as(community, pathOf(sent));
    expect(done.status).toBe(201);
    expect(done.headers.get('location')).toMatch(/\/fhir\/ServiceRequest\//);
    expect(((await done.json()) as { status: string }).status).toBe('created');
  });

  it('refuses bad input at once, with the whole OperationOutcome, and queues nothing', async () => {
    const { s, outbox, gp } = await asyncApp();
    const body = exampleBody('10-bad-nhs-number.422');
    const sync = await s.as(gp, '/fhir', { body });
    const refused = await s.as(gp, '/fhir', { body, headers: ASYNC });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toEqual(await sync.json());
    const badJson = await s.as(gp, '/referrals', {
      body: { referralId: 'X' },
      headers: { ...ASYNC, 'content-type': 'application/json' },
    });
    expect(badJson.status).toBe(400);
    expect(outbox.stats().pending).toBe(0);
  });

  it('shows a job only to the client that sent it: another gets 404, as for an unknown id', async () => {
    const { s, gp } = await asyncApp();
    const sent = await s.as(gp, '/fhir', {
      body: exampleBody('01-gp-transaction-bundle.200'),
      headers: ASYNC,
    });
    const sp = await s.token(SP, 'system/*.rs');
    const other = await s.as(sp, pathOf(sent));
    const unknown = await s.as(sp, '/fhir/_async/00000000-0000-4000-8000-999999999999');
    expect(other.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(await other.json()).toEqual(await unknown.json());
    expect((await s.as(gp, pathOf(sent), { method: 'DELETE' })).status).toBe(405);
  });

  it('gives the same referral sent again while queued the same status location', async () => {
    const { s, outbox, gp } = await asyncApp();
    const body = exampleBody('01-gp-transaction-bundle.200');
    const first = await s.as(gp, '/fhir', { body, headers: ASYNC });
    const second = await s.as(gp, '/fhir', { body, headers: { ...ASYNC, 'x-request-id': 'another' } });
    expect(second.status).toBe(202);
    expect(second.headers.get('content-location')).toBe(first.headers.get('content-location'));
    // Queued again (the first message may never have been): worked once, answered once.
    expect(outbox.stats().pending).toBe(2);

    // Another referral under the same identifier is its own job, answered as a synchronous send would be.
    const changed = structuredClone(body);
    const sr = changed.entry?.find((e) => e.resource?.resourceType === 'ServiceRequest')?.resource;
    if (sr?.resourceType === 'ServiceRequest') sr.priority = 'urgent';
    const third = await s.as(gp, '/fhir', { body: changed, headers: ASYNC });
    expect(third.headers.get('content-location')).not.toBe(first.headers.get('content-location'));
    // Under one identifier, one at a time, in the order accepted.
    expect(await outbox.deliverDue()).toBe(1);
    while ((await outbox.deliverDue()) > 0) {
      // The next under the same identifier, once the one before it is delivered.
    }
    expect((await s.as(gp, pathOf(first))).status).toBe(200);
    expect((await s.as(gp, pathOf(third))).status).toBe(409);
  });

  it('works a job whose message was lost once the same referral is sent again', async () => {
    let lose = true;
    const { s, outbox, gp } = await asyncApp(20, (inner) => ({
      enqueue: (kind, payload, options) => {
        if (lose) {
          // As if the sender died between opening the job and queueing its message.
          lose = false;
          return;
        }
        return inner.enqueue(kind, payload, options);
      },
    }));
    const body = exampleBody('01-gp-transaction-bundle.200');
    const first = await s.as(gp, '/fhir', { body, headers: ASYNC });
    expect(first.status).toBe(202);
    expect(await outbox.deliverDue()).toBe(0);
    expect((await s.as(gp, pathOf(first))).status).toBe(202);
    const again = await s.as(gp, '/fhir', { body, headers: { ...ASYNC, 'x-request-id': 'again' } });
    expect(again.headers.get('content-location')).toBe(first.headers.get('content-location'));
    expect(await outbox.deliverDue()).toBe(1);
    expect((await s.as(gp, pathOf(first))).status).toBe(200);
  });

  it('keeps referrals waiting while the store is down and writes each once it recovers', async () => {
    const { s, store, outbox, gp } = await asyncApp();
    store.down = true;
    const sent = await s.as(gp, '/fhir', {
      body: exampleBody('01-gp-transaction-bundle.200'),
      headers: ASYNC,
    });
    expect(sent.status).toBe(202);
    await outbox.deliverDue();
    await outbox.deliverDue();
    expect(outbox.stats().pending).toBe(1);
    expect((await s.as(gp, pathOf(sent))).status).toBe(202);

    store.down = false;
    await outbox.deliverDue();
    expect(outbox.stats()).toMatchObject({ pending: 0, dead: 0 });
    expect((await s.as(gp, pathOf(sent))).status).toBe(200);
    // Delivered again (as after a crash before the acknowledgement): nothing more is written.
    const found = await store.search('ServiceRequest', {
      identifier: 'https://fhir.riverside-medical.example/referrals|RMP-2026-000101',
    });
    expect(found.entry).toHaveLength(1);
    await asyncIntakeHandlers(
      { store, locks: createInProcessLocks(), clock: s.now, newId: () => crypto.randomUUID() },
      {
        get: async () => ({ id: 'x', owner: GP }),
        open: async () => ({ id: 'x', created: false }),
        complete: async () => {},
        remove: async () => {},
      },
    )['referral-intake']?.({
      jobId: 'x',
      form: 'bundle',
      body: exampleBody('01-gp-transaction-bundle.200'),
      prefer: 'representation',
      baseUrl: BASE,
      requestId: 'redelivered',
      principal: {
        clientId: GP,
        organization: 'B99901',
        scopes: ['system/ServiceRequest.crs', 'system/*.rs'],
      },
    });
    const after = await store.search('ServiceRequest', {
      identifier: 'https://fhir.riverside-medical.example/referrals|RMP-2026-000101',
    });
    expect(after.entry).toHaveLength(1);
  });

  it('answers 503 for a referral dead-lettered while the store was down, with nothing written', async () => {
    const { s, store, outbox, gp, logger } = await asyncApp(3);
    store.down = true;
    const sent = await s.as(gp, '/fhir', {
      body: exampleBody('01-gp-transaction-bundle.200'),
      headers: ASYNC,
    });
    for (let i = 0; i < 3; i++) await outbox.deliverDue();
    expect(outbox.stats()).toMatchObject({ pending: 0, dead: 1 });
    store.down = false;
    const status = await s.as(gp, pathOf(sent));
    expect(status.status).toBe(503);
    const outcome = (await status.json()) as { resourceType: string; issue: { diagnostics: string }[] };
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]?.diagnostics).toMatch(/could not be written; it may be sent again/);
    const found = await store.search('ServiceRequest', {
      identifier: 'https://fhir.riverside-medical.example/referrals|RMP-2026-000101',
    });
    expect(found.entry ?? []).toHaveLength(0);
    expect(logger.lines.join('\n')).not.toMatch(/RMP-2026-000101|9990000018/);
  });

  it('forgets an answered job 24 hours after its answer: its status location is then a 404', async () => {
    const { s, outbox, gp, jobClock } = await asyncApp();
    const sent = await s.as(gp, '/fhir', {
      body: exampleBody('01-gp-transaction-bundle.200'),
      headers: ASYNC,
    });
    await outbox.deliverDue();
    jobClock.now += ASYNC_JOB_TTL_MS - 1;
    expect((await s.as(gp, pathOf(sent))).status).toBe(200);
    jobClock.now += 1;
    const gone = await s.as(gp, pathOf(sent));
    expect(gone.status).toBe(404);
  });

  it('answers 503 for a job whose work never came, once it has lapsed, and never works it after', async () => {
    const { s, store, outbox, gp, jobClock } = await asyncApp();
    const sent = await s.as(gp, '/fhir', {
      body: exampleBody('01-gp-transaction-bundle.200'),
      headers: ASYNC,
    });
    jobClock.now += ASYNC_JOB_PENDING_LIMIT_MS;
    expect((await s.as(gp, pathOf(sent))).status).toBe(503);
    await outbox.deliverDue();
    expect((await s.as(gp, pathOf(sent))).status).toBe(503);
    const found = await store.search('ServiceRequest', {
      identifier: 'https://fhir.riverside-medical.example/referrals|RMP-2026-000101',
    });
    expect(found.entry ?? []).toHaveLength(0);
  });
});
