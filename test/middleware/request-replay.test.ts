import { type Handler, Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RequestContext } from '../../src/auth/principal.ts';
import type { AppEnv } from '../../src/http/env.ts';
import { errorResponse } from '../../src/http/errors.ts';
import type { Logger } from '../../src/logger.ts';
import {
  createInMemoryReplayStore,
  type RecordedResponse,
  type ReplayStore,
  requestReplay,
} from '../../src/middleware/request-replay.ts';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** An in-memory store whose checks take `delayMs`, as a remote one's would. */
function slowStore(delayMs: number): ReplayStore & { puts: string[] } {
  const inner = createInMemoryReplayStore();
  const puts: string[] = [];
  return {
    puts,
    async begin(key) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return inner.begin(key);
    },
    async complete(key, claim, response) {
      puts.push(key);
      await inner.complete(key, claim, response);
    },
    abandon: (key, claim) => inner.abandon(key, claim),
  };
}

/** Records a response under `key`, as a request that claimed it would. */
async function put(store: ReplayStore, key: string, response: RecordedResponse): Promise<void> {
  const begun = await store.begin(key);
  if (begun.state !== 'claimed') throw new Error(`${key} is ${begun.state}`);
  await store.complete(key, begun.claim, response);
}

/** The response recorded under `key`, if any (a claim taken to look is given back). */
async function get(store: ReplayStore, key: string): Promise<RecordedResponse | undefined> {
  const begun = await store.begin(key);
  if (begun.state === 'claimed') await store.abandon(key, begun.claim);
  return begun.state === 'recorded' ? begun.response : undefined;
}

/**
 * The middleware as src/app.ts wires it: after something that sets the request id (the client's
 * X-Request-ID when sent), the raw body and the caller (by the X-Client header here).
 */
function appWith(store: ReplayStore, handler: Handler<AppEnv>): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    const requestId = c.req.header('x-request-id') ?? 'server-made-id';
    c.set('requestId', requestId);
    c.set('rawBody', await c.req.text());
    const ctx: RequestContext = {
      requestId,
      principal: { clientId: c.req.header('x-client') ?? 'gp-system', organization: 'B99901', scopes: [] },
      touched: [],
    };
    c.set('ctx', ctx);
    await next();
  });
  app.use('/fhir/*', requestReplay(store));
  app.post('/fhir/:type', handler);
  app.onError((err, c) => errorResponse(err, c, silent));
  return app;
}

/** A handler that counts its runs and answers 201 with the run number. */
function countingHandler(): { handler: Handler<AppEnv>; runs: () => number } {
  let runs = 0;
  return {
    handler: async (c) => {
      runs += 1;
      const run = runs;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return c.json({ run, body: await c.req.text() }, 201, { Location: `/fhir/Task/${run}` });
    },
    runs: () => runs,
  };
}

const post = (
  app: Hono<AppEnv>,
  body: string,
  headers: Record<string, string> = { 'X-Request-ID': 'req-1' },
  path = '/fhir/ServiceRequest',
) => app.request(path, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });

describe('requestReplay', () => {
  it('runs the handler once for two concurrent requests with the same id, and answers both alike', async () => {
    const store = slowStore(20);
    const { handler, runs } = countingHandler();
    const app = appWith(store, handler);
    const [first, second] = await Promise.all([post(app, '{"a":1}'), post(app, '{"a":1}')]);
    expect(runs()).toBe(1);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get('Location')).toBe('/fhir/Task/1');
    expect(await first.json()).toEqual({ run: 1, body: '{"a":1}' });
    expect(await second.json()).toEqual({ run: 1, body: '{"a":1}' });
    expect(store.puts).toHaveLength(1);
  });

  it('runs the handler once for several concurrent repeats', async () => {
    const { handler, runs } = countingHandler();
    const app = appWith(slowStore(20), handler);
    const answers = await Promise.all(Array.from({ length: 4 }, () => post(app, '{"a":1}')));
    expect(runs()).toBe(1);
    const bodies = await Promise.all(answers.map((r) => r.json()));
    expect(bodies).toEqual(Array.from({ length: 4 }, () => ({ run: 1, body: '{"a":1}' })));
  });

  it('answers a later repeat from the record', async () => {
    const { handler, runs } = countingHandler();
    const app = appWith(slowStore(1), handler);
    await post(app, '{"a":1}');
    const repeat = await post(app, '{"a":1}');
    expect(runs()).toBe(1);
    expect(repeat.status).toBe(201);
    expect(repeat.headers.get('Content-Type')).toMatch(/^application\/json/);
    expect(await repeat.json()).toEqual({ run: 1, body: '{"a":1}' });
  });

  it('answers 409 to the same id with a different body, concurrent or later', async () => {
    const { handler, runs } = countingHandler();
    const app = appWith(slowStore(20), handler);
    // Whichever of the two takes the id first is served; the other is the conflict.
    const concurrent = await Promise.all([post(app, '{"a":1}'), post(app, '{"a":2}')]);
    const later = await post(app, '{"a":3}');
    expect(runs()).toBe(1);
    expect(concurrent.map((r) => r.status).sort()).toEqual([201, 409]);
    const conflicting = concurrent.find((r) => r.status === 409);
    for (const answer of [conflicting, later]) {
      expect(answer?.status).toBe(409);
      expect(await answer?.json()).toEqual({
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'error',
            code: 'duplicate',
            diagnostics: 'This X-Request-ID was already used for a different request',
          },
        ],
      });
    }
  });

  it('keeps request ids apart by client and by path', async () => {
    const { handler, runs } = countingHandler();
    const app = appWith(slowStore(1), handler);
    await post(app, '{"a":1}', { 'X-Request-ID': 'req-1', 'X-Client': 'gp-system' });
    const otherClient = await post(app, '{"a":2}', { 'X-Request-ID': 'req-1', 'X-Client': 'other-gp' });
    const otherPath = await post(app, '{"a":2}', { 'X-Request-ID': 'req-1' }, '/fhir/Task');
    expect(runs()).toBe(3);
    expect(otherClient.status).toBe(201);
    expect(otherPath.status).toBe(201);
  });

  it('lets requests without a client-sent id through every time', async () => {
    const { handler, runs } = countingHandler();
    const store = slowStore(1);
    const app = appWith(store, handler);
    await post(app, '{"a":1}', {});
    await post(app, '{"a":1}', {});
    expect(runs()).toBe(2);
    expect(store.puts).toEqual([]);
  });

  it('does not record server failures, so a retry is processed afresh', async () => {
    const store = slowStore(1);
    let runs = 0;
    const app = appWith(store, (c) => {
      runs += 1;
      if (runs === 1) return c.json({ failed: true }, 503);
      if (runs === 2) throw new Error('boom');
      return c.json({ run: runs }, 201);
    });
    expect((await post(app, '{"a":1}')).status).toBe(503);
    expect((await post(app, '{"a":1}')).status).toBe(500);
    const third = await post(app, '{"a":1}');
    const fourth = await post(app, '{"a":1}');
    expect(runs).toBe(3);
    expect(await third.json()).toEqual({ run: 3 });
    expect(await fourth.json()).toEqual({ run: 3 });
    expect(store.puts).toHaveLength(1);
  });

  it('lets a waiting repeat run afresh after a concurrent server failure', async () => {
    let runs = 0;
    const app = appWith(slowStore(20), async (c) => {
      runs += 1;
      return runs === 1 ? c.json({ failed: true }, 503) : c.json({ run: runs }, 201);
    });
    const answers = await Promise.all([post(app, '{"a":1}'), post(app, '{"a":1}')]);
    expect(runs).toBe(2);
    // Whichever claimed the id first failed; the one waiting on it ran afresh.
    expect(answers.map((a) => a.status).sort()).toEqual([201, 503]);
  });

  it('records client errors like any other answer', async () => {
    let runs = 0;
    const app = appWith(slowStore(1), (c) => {
      runs += 1;
      return c.json({ run: runs }, 422);
    });
    await post(app, '{"a":1}');
    const repeat = await post(app, '{"a":1}');
    expect(runs).toBe(1);
    expect(repeat.status).toBe(422);
    expect(await repeat.json()).toEqual({ run: 1 });
  });
});

describe('createInMemoryReplayStore', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Weighs 2 * (body + 1) + 64 bytes by the store's measure: 466 for the default 200 characters. */
  const recorded = (bodyLength = 200): RecordedResponse => ({
    bodyHash: 'h',
    status: 201,
    headers: [],
    body: 'x'.repeat(bodyLength),
  });

  it('claims a key once: a second begin is in flight until the claim is completed or abandoned', async () => {
    const store = createInMemoryReplayStore();
    const first = await store.begin('k');
    const second = await store.begin('k');
    expect(first.state).toBe('claimed');
    expect(second.state).toBe('in-flight');
    if (first.state !== 'claimed' || second.state !== 'in-flight') return;
    // Someone else's claim ends nothing.
    await store.abandon('k', 'not-the-claim');
    expect((await store.begin('k')).state).toBe('in-flight');
    await store.abandon('k', first.claim);
    await second.settled;
    const third = await store.begin('k');
    expect(third.state).toBe('claimed');
    if (third.state !== 'claimed') return;
    await store.complete('k', third.claim, recorded());
    expect(await store.begin('k')).toEqual({ state: 'recorded', response: recorded() });
  });

  it('keeps and returns a response', async () => {
    const store = createInMemoryReplayStore();
    const response: RecordedResponse = {
      bodyHash: 'abc',
      status: 201,
      headers: [['content-type', 'application/fhir+json']],
      body: '{"resourceType":"Task"}',
    };
    await put(store, 'k', response);
    expect(await get(store, 'k')).toEqual(response);
    expect(await get(store, 'other')).toBeUndefined();
  });

  it('drops the oldest entries first once over its size bound', async () => {
    // 8 entries of 466 bytes fit in 4000; the ninth does not.
    const store = createInMemoryReplayStore({ maxBytes: 4000 });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    for (const key of keys) await put(store, key, recorded());
    expect(await get(store, 'a')).toBeUndefined();
    for (const key of keys.slice(1)) expect(await get(store, key)).toBeDefined();
    await put(store, 'j', recorded());
    expect(await get(store, 'b')).toBeUndefined();
    expect(await get(store, 'c')).toBeDefined();
  });

  it('drops as many old entries as a new one needs', async () => {
    // 15 entries of 266 bytes hold 3990 of 4000; one of 500 needs two of them to go.
    const store = createInMemoryReplayStore({ maxBytes: 4000 });
    const keys = Array.from({ length: 15 }, (_, i) => `k${i}`);
    for (const key of keys) await put(store, key, recorded(100));
    await put(store, 'big', recorded(217));
    expect(await get(store, 'k0')).toBeUndefined();
    expect(await get(store, 'k1')).toBeUndefined();
    for (const key of keys.slice(2)) expect(await get(store, key)).toBeDefined();
    expect(await get(store, 'big')).toBeDefined();
  });

  it('does not keep a response larger than an eighth of its bound', async () => {
    const store = createInMemoryReplayStore({ maxBytes: 4000 });
    await put(store, 'a', recorded());
    await put(store, 'just-fits', recorded(217));
    await put(store, 'too-big', recorded(218));
    expect(await get(store, 'just-fits')).toBeDefined();
    expect(await get(store, 'too-big')).toBeUndefined();
    expect(await get(store, 'a')).toBeDefined();
  });

  it('forgets a response after its time to live', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-07-14T10:00:00Z'));
    const store = createInMemoryReplayStore({ ttlMs: 60_000 });
    await put(store, 'k', recorded());
    vi.setSystemTime(new Date('2026-07-14T10:01:00Z'));
    expect(await get(store, 'k')).toBeDefined();
    vi.setSystemTime(new Date('2026-07-14T10:01:00.001Z'));
    expect(await get(store, 'k')).toBeUndefined();
    // Gone for good, not only hidden.
    vi.setSystemTime(new Date('2026-07-14T10:00:30Z'));
    expect(await get(store, 'k')).toBeUndefined();
  });

  it('frees the room of an expired response', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-07-14T10:00:00Z'));
    const store = createInMemoryReplayStore({ maxBytes: 4000, ttlMs: 60_000 });
    await put(store, 'old', recorded());
    vi.setSystemTime(new Date('2026-07-14T10:00:30Z'));
    for (const key of ['b', 'c', 'd', 'e', 'f', 'g', 'h']) await put(store, key, recorded());
    vi.setSystemTime(new Date('2026-07-14T10:01:10Z'));
    expect(await get(store, 'old')).toBeUndefined();
    // 'old' no longer counts towards the bound, so this entry pushes nothing out.
    await put(store, 'i', recorded());
    expect(await get(store, 'b')).toBeDefined();
    expect(await get(store, 'i')).toBeDefined();
  });
});
