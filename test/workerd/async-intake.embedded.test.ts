import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
} from 'cloudflare:test';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import type { Hono } from 'hono';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { shardOfJob } from '../../src/edge/async-jobs.ts';
import { OUTBOX_QUEUE_POLICY } from '../../src/edge/outbox.ts';
import type { ShardNamespace, ShardState } from '../../src/edge/shard-calls.ts';
import { shardName } from '../../src/edge/shards.ts';
import { buildWorkerApp } from '../../src/edge/worker-app.ts';
import type { AppEnv } from '../../src/http/env.ts';
import worker from '../../src/worker.ts';
import {
  call,
  countOf,
  newNhsNumber,
  outcomesOf,
  REFERRAL_SYSTEM,
  referralFor,
  tokenFrom,
} from './isolates.ts';
import { as } from './referrals.ts';
import { tokenFor } from './token.ts';

// `Prefer: respond-async` on the Worker: the job in an AsyncJobShard object, the referral in the
// outbox Queue, worked by the Worker's queue handler against an embedded Medplum. Most tests give
// the app a Queue that records what it is sent and deliver it themselves, as the Queue would (with
// the attempts they choose, and a Medplum that is down when they choose); one goes through the
// Worker's own Queue and consumer.

const QUEUE = 'social-prescribing-outbox';
const GP = 'riverside-medical-gp-system';
const SP = 'riverside-social-prescribing';
const SCOPE = 'system/ServiceRequest.crs system/*.rs';
const ASYNC = { prefer: 'respond-async' };
const FACADE = 'https://facade.test';

interface Envelope {
  kind: string;
  ref?: string;
  payload: unknown;
}

/** An app whose outbox Queue records what it is sent (audit records and queued referrals alike). */
async function recordingApp() {
  const sent: Envelope[] = [];
  const bindings = {
    ...env,
    OUTBOX: {
      send: async (body: unknown) => {
        sent.push(body as Envelope);
      },
    },
  };
  const app = await buildWorkerApp(bindings);
  const queued = () => sent.filter((m) => m.kind === 'referral-intake');
  return { app, queued };
}

/** Bindings for the consumer: Medplum up (the project's), or down, with a recording dead-letter queue. */
function consumerBindings(medplum: 'up' | 'down') {
  const deadLetters: unknown[] = [];
  const bindings = {
    ...env,
    ...(medplum === 'down' ? { MEDPLUM_BASE_URL: 'https://medplum-down.test/', LOG_LEVEL: 'info' } : {}),
    OUTBOX_DEAD_LETTERS: {
      send: async (body: unknown) => {
        deadLetters.push(body);
      },
    },
  };
  return { bindings, deadLetters };
}

/** Runs the Worker's queue handler on one delivery of the message, as the Queue would. */
async function deliver(bindings: Record<string, unknown>, body: unknown, attempts: number) {
  const id = `msg-${crypto.randomUUID().slice(0, 8)}`;
  const batch = createMessageBatch(QUEUE, [{ id, timestamp: new Date(), attempts, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings, ctx);
  const result = await getQueueResult(batch, ctx);
  return {
    acked: result.explicitAcks.includes(id),
    retried: result.retryMessages.some((m) => m.msgId === id),
  };
}

let gp: string;
let sp: string;
beforeAll(async () => {
  const app = await buildWorkerApp(env);
  gp = await tokenFrom(app, GP, SCOPE);
  sp = await tokenFrom(app, SP, 'system/*.rs');
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** A new referral of its own (person and identifier), as the journey's GP sends it. */
function newReferral() {
  const referralId = `RMP-ASYNC-${crypto.randomUUID().slice(0, 8)}`;
  return { referralId, body: referralFor(newNhsNumber(), referralId) };
}

const post = (app: Hono<AppEnv>, body: string, headers: Record<string, string> = {}) =>
  call(app, '/fhir', {
    body,
    headers: { authorization: `Bearer ${gp}`, 'content-type': 'application/fhir+json', ...headers },
  });

const statusOf = (app: Hono<AppEnv>, location: string | null, token = gp) =>
  call(app, (location ?? '').slice(FACADE.length), { headers: { authorization: `Bearer ${token}` } });

/** What the referral left in the store: ServiceRequests under its identifier, and their Tasks. */
async function storedFor(app: Hono<AppEnv>, referralId: string) {
  const found = await call(app, `/fhir/ServiceRequest?identifier=${REFERRAL_SYSTEM}|${referralId}`, {
    headers: { authorization: `Bearer ${gp}` },
  });
  const ids = ((JSON.parse(found.text) as Bundle).entry ?? []).map((e) => e.resource?.id as string);
  let tasks = 0;
  for (const id of ids) tasks += await countOf(app, gp, `Task?focus=ServiceRequest/${id}`);
  return { serviceRequests: ids.length, tasks };
}

describe('Prefer: respond-async on the Worker', () => {
  it('answers 202 with a status location, pending until the queue is consumed, then the transaction-response', async () => {
    const { app, queued } = await recordingApp();
    const { referralId, body } = newReferral();
    const sent = await post(app, body, ASYNC);
    expect(sent.status).toBe(202);
    const location = sent.headers.get('content-location');
    expect(location).toMatch(/^https:\/\/facade\.test\/fhir\/_async\/\d{1,2}-[0-9a-f-]{36}$/);
    expect((JSON.parse(sent.text) as OperationOutcome).resourceType).toBe('OperationOutcome');

    const pending = await statusOf(app, location);
    expect(pending.status).toBe(202);
    expect(pending.headers.get('retry-after')).toBeTruthy();

    expect(queued()).toHaveLength(1);
    expect(await deliver(consumerBindings('up').bindings, queued()[0], 1)).toEqual({
      acked: true,
      retried: false,
    });
    const done = await statusOf(app, location);
    expect(done.status).toBe(200);
    expect(done.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const bundle = JSON.parse(done.text) as Bundle;
    expect(bundle.type).toBe('transaction-response');
    expect(outcomesOf(done.text).some((o) => o.status === '201 Created')).toBe(true);
    expect(await storedFor(app, referralId)).toEqual({ serviceRequests: 1, tasks: 1 });
  });

  it('refuses bad input at once, with the whole OperationOutcome, and queues nothing', async () => {
    const { app, queued } = await recordingApp();
    const body = referralFor('9990000019', `RMP-ASYNC-BAD-${crypto.randomUUID().slice(0, 8)}`);
    const sync = await post(app, body);
    const refused = await post(app, body, { ...ASYNC, 'x-request-id': crypto.randomUUID() });
    expect(refused.status).toBe(422);
    expect(JSON.parse(refused.text)).toEqual(JSON.parse(sync.text));
    const badJson = await call(app, '/referrals', {
      body: JSON.stringify({ referralId: 'X' }),
      headers: { authorization: `Bearer ${gp}`, 'content-type': 'application/json', ...ASYNC },
    });
    expect(badJson.status).toBe(400);
    expect(queued()).toEqual([]);
  });

  it('shows a job only to the client that sent it: another gets the 404 an unknown id gets', async () => {
    const { app } = await recordingApp();
    const sent = await post(app, newReferral().body, ASYNC);
    const location = sent.headers.get('content-location');
    const other = await statusOf(app, location, sp);
    const unknown = await statusOf(app, `${FACADE}/fhir/_async/3-00000000-0000-4000-8000-999999999999`, sp);
    const malformed = await statusOf(app, `${FACADE}/fhir/_async/not-a-job`, sp);
    expect([other.status, unknown.status, malformed.status]).toEqual([404, 404, 404]);
    expect(JSON.parse(other.text)).toEqual(JSON.parse(unknown.text));
    expect((await statusOf(app, location)).status).toBe(202);
    const deleted = await call(app, (location ?? '').slice(FACADE.length), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${gp}` },
    });
    expect(deleted.status).toBe(405);
  });

  it('gives the same referral sent again while queued, from another isolate, the same status location', async () => {
    const first = await recordingApp();
    const second = await recordingApp();
    const { body } = newReferral();
    const a = await post(first.app, body, ASYNC);
    const b = await post(second.app, body, { ...ASYNC, 'x-request-id': crypto.randomUUID() });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.headers.get('content-location')).toBe(a.headers.get('content-location'));
    // Queued again by the second (the first message may never have been): worked once, answered once.
    expect([first.queued().length, second.queued().length]).toEqual([1, 1]);
  });

  it('retries while Medplum is down and, once it is back, writes the referral exactly once', async () => {
    const { app, queued } = await recordingApp();
    const { referralId, body } = newReferral();
    const sent = await post(app, body, ASYNC);
    const location = sent.headers.get('content-location');
    const [message] = queued();
    const down = consumerBindings('down');
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(await deliver(down.bindings, message, 1)).toEqual({ acked: false, retried: true });
    expect(await deliver(down.bindings, message, 2)).toEqual({ acked: false, retried: true });
    expect((await statusOf(app, location)).status).toBe(202);

    const up = consumerBindings('up').bindings;
    expect(await deliver(up, message, 3)).toEqual({ acked: true, retried: false });
    expect((await statusOf(app, location)).status).toBe(200);
    // Delivered again (the Queue is at least once): nothing more is written, the answer stands.
    expect(await deliver(up, message, 4)).toEqual({ acked: true, retried: false });
    expect(await storedFor(app, referralId)).toEqual({ serviceRequests: 1, tasks: 1 });
    expect(down.deadLetters).toEqual([]);
  });

  it('answers 503, saying it may be sent again, once the referral is dead-lettered, logging no patient data', async () => {
    const { app, queued } = await recordingApp();
    const nhsNumber = newNhsNumber();
    const referralId = `RMP-ASYNC-DEAD-${crypto.randomUUID().slice(0, 8)}`;
    const sent = await post(app, referralFor(nhsNumber, referralId), ASYNC);
    const location = sent.headers.get('content-location');
    const [message] = queued();
    const down = consumerBindings('down');
    const logs = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const last = OUTBOX_QUEUE_POLICY.maxAttempts;
    expect(await deliver(down.bindings, message, last)).toEqual({ acked: true, retried: false });
    // The job answered, the dead letter keeps no payload: the referral's personal data is not kept.
    expect(down.deadLetters).toEqual([{ ...message, payload: null, attempts: last, error: 'UpstreamError' }]);
    expect(JSON.stringify(down.deadLetters)).not.toContain(nhsNumber);

    const status = await statusOf(app, location);
    expect(status.status).toBe(503);
    const outcome = JSON.parse(status.text) as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]?.diagnostics).toMatch(/could not be written; it may be sent again/);
    expect(status.text).not.toContain(nhsNumber);
    expect(await storedFor(app, referralId)).toEqual({ serviceRequests: 0, tasks: 0 });
    const lines = logs.mock.calls.map(([line]) => String(line)).join('\n');
    expect(lines).toContain('outbox.dead-letter');
    expect(lines).not.toContain(nhsNumber);
    expect(lines).not.toContain(referralId);
  });

  it('writes referrals under one identifier in the order accepted, whatever order the Queue delivers them in', async () => {
    const { app, queued } = await recordingApp();
    const referralId = `RMP-ASYNC-ORDER-${crypto.randomUUID().slice(0, 8)}`;
    // Two different referrals under one identifier: the first accepted is the one stored.
    const first = await post(app, referralFor(newNhsNumber(), referralId), ASYNC);
    const second = await post(app, referralFor(newNhsNumber(), referralId), ASYNC);
    expect([first.status, second.status]).toEqual([202, 202]);
    const [earlier, later] = queued();
    const up = consumerBindings('up').bindings;
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    // The later one delivered first waits, and nothing is written for it.
    expect(await deliver(up, later, 1)).toEqual({ acked: false, retried: true });
    expect(await storedFor(app, referralId)).toEqual({ serviceRequests: 0, tasks: 0 });
    expect((await statusOf(app, second.headers.get('content-location'))).status).toBe(202);
    expect(await deliver(up, earlier, 1)).toEqual({ acked: true, retried: false });
    expect(await deliver(up, later, 2)).toEqual({ acked: true, retried: false });
    expect((await statusOf(app, first.headers.get('content-location'))).status).toBe(200);
    expect((await statusOf(app, second.headers.get('content-location'))).status).toBe(409);
    expect(await storedFor(app, referralId)).toEqual({ serviceRequests: 1, tasks: 1 });
  });

  it('lets a later referral under the identifier go once the earlier one is dead-lettered', async () => {
    const { app, queued } = await recordingApp();
    const referralId = `RMP-ASYNC-ORDER-DEAD-${crypto.randomUUID().slice(0, 8)}`;
    const first = await post(app, referralFor(newNhsNumber(), referralId), ASYNC);
    const second = await post(app, referralFor(newNhsNumber(), referralId), ASYNC);
    const [earlier, later] = queued();
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const down = consumerBindings('down');
    expect(await deliver(down.bindings, earlier, OUTBOX_QUEUE_POLICY.maxAttempts)).toEqual({
      acked: true,
      retried: false,
    });
    expect((await statusOf(app, first.headers.get('content-location'))).status).toBe(503);
    expect(await deliver(consumerBindings('up').bindings, later, 1)).toEqual({ acked: true, retried: false });
    expect((await statusOf(app, second.headers.get('content-location'))).status).toBe(200);
    expect(await storedFor(app, referralId)).toEqual({ serviceRequests: 1, tasks: 1 });
  });

  it('forgets an answered job once it expires: the object’s alarm drops it, and its location is a 404', async () => {
    const { app, queued } = await recordingApp();
    const sent = await post(app, newReferral().body, ASYNC);
    const location = sent.headers.get('content-location') ?? '';
    await deliver(consumerBindings('up').bindings, queued()[0], 1);
    expect((await statusOf(app, location)).status).toBe(200);

    const id = location.split('/').pop() as string;
    const namespace = env.ASYNC_JOB_SHARDS as unknown as ShardNamespace;
    const stub = namespace.get(
      namespace.idFromName(shardName(shardOfJob(id) as number)),
    ) as unknown as Parameters<typeof runDurableObjectAlarm>[0];
    const sql = (query: string, ...bindings: (string | number)[]) =>
      runInDurableObject(stub, (_object: unknown, state) =>
        (state as unknown as ShardState).storage.sql.exec(query, ...bindings).toArray(),
      );
    // A day passes.
    await sql('UPDATE async_job SET expires_at = ? WHERE id = ?', Date.now() - 1, id);
    expect((await statusOf(app, location)).status).toBe(404);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await sql('SELECT id FROM async_job WHERE id = ?', id)).toEqual([]);
  });

  it('answers at once, as without it, where the job objects or the Queue are not bound', async () => {
    const { ASYNC_JOB_SHARDS: _jobs, ...withoutJobs } = env as Record<string, unknown>;
    const { OUTBOX: _queue, ...withoutQueue } = env as Record<string, unknown>;
    for (const bindings of [withoutJobs, withoutQueue]) {
      const app = await buildWorkerApp(bindings);
      const { referralId, body } = newReferral();
      const answer = await post(app, body, ASYNC);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-location')).toBeNull();
      expect((JSON.parse(answer.text) as Bundle).type).toBe('transaction-response');
      expect(await storedFor(app, referralId)).toEqual({ serviceRequests: 1, tasks: 1 });
      const status = await statusOf(app, `${FACADE}/fhir/_async/3-00000000-0000-4000-8000-999999999999`);
      expect(status.status).toBe(404);
    }
  });

  it('works through the Worker’s own Queue and consumer', async () => {
    const token = await tokenFor(GP, SCOPE);
    const { body } = newReferral();
    const sent = await as(token, '/fhir', { body, headers: ASYNC });
    expect(sent.status).toBe(202);
    const path = (sent.headers.get('content-location') ?? '').slice(FACADE.length);
    let status = 202;
    // The Queue delivers in batches: allow up to 10 s.
    for (let attempt = 0; attempt < 200 && status === 202; attempt++) {
      if (attempt) await new Promise((resolve) => setTimeout(resolve, 50));
      const answer = await as(token, path);
      status = answer.status;
      await answer.arrayBuffer();
    }
    expect(status).toBe(200);
  });
});
