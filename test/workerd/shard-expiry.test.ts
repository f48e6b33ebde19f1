import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MAX_RECORD_BYTES } from '../../src/edge/replay-shard.ts';
import { callShard, type ShardNamespace, type ShardState } from '../../src/edge/shard-calls.ts';
import { digestOf, shardName, shardOf } from '../../src/edge/shards.ts';

// What the replay and assertion objects keep, and how it goes: claims of dead isolates lapse,
// records and assertion ids expire.

const replay = env.REPLAY_SHARDS as unknown as ShardNamespace;
const jtis = env.JTI_SHARDS as unknown as ShardNamespace;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
type Stub = Parameters<typeof runDurableObjectAlarm>[0];

const stubOf = (namespace: ShardNamespace, digest: string) =>
  namespace.get(namespace.idFromName(shardName(shardOf(digest)))) as unknown as Stub;

/** Runs SQL in the object, as if time had passed or to look at what it holds. */
const sqlIn = (stub: Stub, query: string, ...bindings: (string | number)[]) =>
  runInDurableObject(stub, (_object: unknown, state) =>
    (state as unknown as ShardState).storage.sql.exec(query, ...bindings).toArray(),
  );

const response = {
  bodyHash: 'h',
  status: 201,
  headers: [['content-type', 'application/fhir+json']],
  body: '{}',
};

describe('the X-Request-ID objects', () => {
  it('lets the claim of an isolate that died lapse, then lets another request claim the id', async () => {
    const key = await digestOf(`gp POST /fhir ${crypto.randomUUID()}`);
    const begin = (claim: string) => callShard(replay, key, 'begin', { key, claim, claimMs: 200 });
    expect(await begin('dead-isolate')).toEqual({ state: 'claimed' });
    expect(await begin('other-isolate')).toEqual({ state: 'in-flight' });
    // The same claim asking again (its answer was lost) is still its own.
    expect(await begin('dead-isolate')).toEqual({ state: 'claimed' });
    await sleep(250);
    expect(await begin('other-isolate')).toEqual({ state: 'claimed' });
  });

  it('answers with the record until it expires, and drops it then by the alarm', async () => {
    const key = await digestOf(`gp POST /fhir ${crypto.randomUUID()}`);
    const stub = stubOf(replay, key);
    await callShard(replay, key, 'begin', { key, claim: 'c1', claimMs: 30_000 });
    await callShard(replay, key, 'complete', { key, claim: 'c1', response });
    expect(await callShard(replay, key, 'begin', { key, claim: 'c2', claimMs: 30_000 })).toEqual({
      state: 'recorded',
      response,
    });
    // A day passes.
    await sqlIn(stub, 'UPDATE replay SET expires_at = ? WHERE key = ?', Date.now() - 1, key);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await sqlIn(stub, 'SELECT key FROM replay WHERE key = ?', key)).toEqual([]);
    expect(await callShard(replay, key, 'begin', { key, claim: 'c3', claimMs: 30_000 })).toEqual({
      state: 'claimed',
    });
  });

  it('keeps no record of a response too large to store, so its repeat runs afresh', async () => {
    const key = await digestOf(`gp POST /fhir ${crypto.randomUUID()}`);
    const large = { ...response, body: 'x'.repeat(MAX_RECORD_BYTES) };
    await callShard(replay, key, 'begin', { key, claim: 'c1', claimMs: 30_000 });
    await callShard(replay, key, 'complete', { key, claim: 'c1', response: large });
    expect(await callShard(replay, key, 'begin', { key, claim: 'c2', claimMs: 30_000 })).toEqual({
      state: 'claimed',
    });
  });
});

describe('the assertion objects', () => {
  it('accept a jti once, again for the same attempt, and sweep it when it expires', async () => {
    const clientId = `client-${crypto.randomUUID()}`;
    const digest = await digestOf(clientId);
    const jti = await digestOf(crypto.randomUUID());
    const claim = (attempt: string, expiresAt: number) =>
      callShard(jtis, digest, 'claim', { clientId, jti, attempt, expiresAt, now: Date.now() });
    const expiresAt = Date.now() + 200;
    expect(await claim('a1', expiresAt)).toEqual({ accepted: true });
    expect(await claim('a2', expiresAt)).toEqual({ accepted: false });
    expect(await claim('a1', expiresAt)).toEqual({ accepted: true });

    await sleep(300);
    const stub = stubOf(jtis, digest);
    // The alarm set for its expiry has run, or runs now.
    await runDurableObjectAlarm(stub);
    expect(await sqlIn(stub, 'SELECT jti FROM jtis WHERE client_id = ?', clientId)).toEqual([]);
    expect(await claim('a3', Date.now() + 60_000)).toEqual({ accepted: true });
  });
});
