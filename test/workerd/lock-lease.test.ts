import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { LockShard } from '../../src/edge/lock-shard.ts';
import { createDurableObjectLocks } from '../../src/edge/locks.ts';
import { callShard, type ShardNamespace, type ShardState } from '../../src/edge/shard-calls.ts';
import { digestOf, shardName, shardOf } from '../../src/edge/shards.ts';
import { unchangedSince } from '../../src/referrals/locks.ts';

// The shared locks, driven as isolates drive them: each lock client stands for one isolate.

const locks = env.LOCK_SHARDS as unknown as ShardNamespace;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const unique = (prefix: string) => `${prefix}|${crypto.randomUUID()}`;

/** The shard object a key's lease lives in, and the digest it is kept under. */
async function shardFor(key: string) {
  const digest = await digestOf(key);
  const stub = locks.get(locks.idFromName(shardName(shardOf(digest))));
  return { digest, stub: stub as unknown as Parameters<typeof runDurableObjectAlarm>[0] };
}

/** Takes a key as an isolate that then dies: never renewed, never released. */
async function takeAndDie(digest: string, leaseMs: number): Promise<void> {
  const args = { key: digest, holder: 'isolate-that-died', leaseMs, waitMs: 0 };
  expect(await callShard(locks, digest, 'acquire', args)).toMatchObject({ granted: true });
}

/** Runs `fn` under the locks, saying when it got them. */
function timed(client: ReturnType<typeof createDurableObjectLocks>, keys: string[]) {
  const state = { enteredAt: 0 };
  const done = client.withLocks(keys, async () => {
    state.enteredAt = Date.now();
  });
  return { state, done };
}

describe('locks shared through Durable Objects', () => {
  it('never lets two isolates run the same key at once', async () => {
    const [x, y] = [createDurableObjectLocks(locks), createDurableObjectLocks(locks)];
    const key = unique('ServiceRequest');
    let running = 0;
    let most = 0;
    let runs = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? x : y).withLocks([key], async () => {
          running++;
          most = Math.max(most, running);
          await sleep(5);
          running--;
          runs++;
        }),
      ),
    );
    expect(runs).toBe(20);
    expect(most).toBe(1);
  });

  it('takes keys held in different shards in one order, so overlapping sets do not deadlock', async () => {
    const [x, y] = [createDurableObjectLocks(locks), createDurableObjectLocks(locks)];
    const keys = Array.from({ length: 4 }, () => unique('Patient'));
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? x : y).withLocks(i % 2 === 0 ? keys : [...keys].reverse(), async () => i),
      ),
    );
    expect(runs).toHaveLength(10);
  });

  it('releases the lock of a holder that died once its lease has run out, by the alarm', async () => {
    const key = unique('Patient');
    const { digest, stub } = await shardFor(key);
    await takeAndDie(digest, 60_000);
    const waiter = timed(createDurableObjectLocks(locks, { waitMs: 30_000 }), [key]);
    await sleep(200);
    expect(waiter.state.enteredAt).toBe(0);

    // The lease's minute passes: its expiry is moved into the past rather than waited for.
    await runInDurableObject(stub, (_shard: LockShard, state) => {
      (state as unknown as ShardState).storage.sql.exec(
        'UPDATE leases SET expires_at = ? WHERE key = ?',
        Date.now() - 1,
        digest,
      );
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await waiter.done;
    expect(waiter.state.enteredAt).toBeGreaterThan(0);
    // The waiter released it in turn: nothing is left held.
    expect(await runInDurableObject(stub, (shard: LockShard) => shard.lease(digest))).toBeUndefined();
  });

  it('ends a short lease by itself, with nobody releasing it', async () => {
    const key = unique('Patient');
    const { digest } = await shardFor(key);
    const takenAt = Date.now();
    await takeAndDie(digest, 300);
    const waiter = timed(createDurableObjectLocks(locks), [key]);
    await waiter.done;
    expect(waiter.state.enteredAt - takenAt).toBeGreaterThanOrEqual(300);
    expect(waiter.state.enteredAt - takenAt).toBeLessThan(5_000);
  });

  it('keeps a live holder’s lock past its lease by renewing it', async () => {
    const key = unique('ServiceRequest');
    const short = { leaseMs: 300 };
    const [x, y] = [createDurableObjectLocks(locks, short), createDurableObjectLocks(locks, short)];
    let firstDoneAt = 0;
    const first = x.withLocks([key], async () => {
      await sleep(1_200);
      firstDoneAt = Date.now();
    });
    await sleep(50);
    const second = timed(y, [key]);
    await Promise.all([first, second.done]);
    expect(second.state.enteredAt).toBeGreaterThanOrEqual(firstDoneAt);
  });

  it('keeps leases in storage: an evicted object still knows who holds a key', async () => {
    const key = unique('Patient');
    const { digest, stub } = await shardFor(key);
    await takeAndDie(digest, 60_000);
    await evictDurableObject(stub);
    const other = { key: digest, holder: 'another-isolate', leaseMs: 1_000, waitMs: 0 };
    expect(await callShard(locks, digest, 'acquire', other)).toEqual({ granted: false });
    await callShard(locks, digest, 'release', { key: digest, holder: 'isolate-that-died' });
    expect(await callShard(locks, digest, 'acquire', other)).toMatchObject({ granted: true });
  });
});

describe('taking several keys', () => {
  /** The namespace, noting each call's operation and its wait. */
  function counted() {
    const calls: { op: string; waitMs?: number }[] = [];
    const namespace: ShardNamespace = {
      idFromName: (name) => locks.idFromName(name),
      get: (id) => {
        const stub = locks.get(id);
        return {
          fetch: async (input, init) => {
            const args = JSON.parse(String(init?.body ?? '{}')) as { waitMs?: number };
            calls.push({ op: new URL(String(input)).pathname.slice(1), waitMs: args.waitMs });
            return stub.fetch(input, init);
          },
        };
      },
    };
    return { namespace, calls };
  }

  it('asks for all of them at once, without waiting, when nobody holds any', async () => {
    const { namespace, calls } = counted();
    const keys = Array.from({ length: 4 }, () => unique('Patient'));
    await createDurableObjectLocks(namespace).withLocks(keys, async () => {});
    const acquires = calls.filter((c) => c.op === 'acquire');
    expect(acquires).toHaveLength(4);
    expect(acquires.every((c) => c.waitMs === 0)).toBe(true);
  });

  it('gives back what it got and queues in order when one is held, then gets them all', async () => {
    const keys = Array.from({ length: 3 }, () => unique('Patient'));
    const other = createDurableObjectLocks(locks);
    let release!: () => void;
    const holding = other.withLocks([keys[1] as string], () => new Promise<void>((r) => (release = r)));
    await sleep(50);
    const { namespace, calls } = counted();
    let ran = false;
    const mine = createDurableObjectLocks(namespace).withLocks(keys, async () => {
      ran = true;
    });
    await sleep(100);
    expect(ran).toBe(false);
    release();
    await Promise.all([holding, mine]);
    expect(ran).toBe(true);
    expect(calls.filter((c) => c.op === 'acquire' && c.waitMs !== 0).length).toBeGreaterThan(0);
  });
});

describe('generations of the shared locks', () => {
  it('leave out a key whose object cannot tell (one from before generations): it reads as changed', async () => {
    const old: ShardNamespace = {
      idFromName: (name) => locks.idFromName(name),
      get: (id) => {
        const stub = locks.get(id);
        return {
          fetch: async (input, init) =>
            new URL(String(input)).pathname === '/generation'
              ? new Response('not found', { status: 404 })
              : stub.fetch(input, init),
        };
      },
    };
    const key = unique('Patient');
    const client = createDurableObjectLocks(old);
    const before = await client.generations([key]);
    expect(before.has(key)).toBe(false);
    expect(
      await client.withLocks([key], async (generations) => unchangedSince(before, generations, [key])),
    ).toBe(false);
  });

  it('change when a key is released, on any isolate, and not otherwise', async () => {
    const [x, y] = [createDurableObjectLocks(locks), createDurableObjectLocks(locks)];
    const key = unique('Patient');
    const other = unique('Patient');
    const first = await x.generations([key, other]);
    // Nothing ended under the key: the generation it is taken with is the one read before.
    const taken = await y.withLocks([key], async (generations) => generations.get(key));
    expect(taken).toBe(first.get(key));
    // It has ended once now: another isolate reads a new generation, and takes the key with it.
    const after = await x.generations([key, other]);
    expect(after.get(key)).not.toBe(first.get(key));
    expect(after.get(other)).toBe(first.get(other));
    expect(await x.withLocks([key], async (generations) => generations.get(key))).toBe(after.get(key));
  });

  it('change when a lease runs out and another holder takes the key over', async () => {
    const key = unique('Patient');
    const { digest } = await shardFor(key);
    const client = createDurableObjectLocks(locks);
    const before = await client.generations([key]);
    await takeAndDie(digest, 50);
    await sleep(100);
    const taken = await client.withLocks([key], async (generations) => generations.get(key));
    expect(taken).not.toBe(before.get(key));
  });
});
