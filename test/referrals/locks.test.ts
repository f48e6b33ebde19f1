import { describe, expect, it } from 'vitest';
import { createInProcessLocks, unchangedSince } from '../../src/referrals/locks.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('in-process locks', () => {
  it('run work on the same key one at a time, and on other keys alongside', async () => {
    const locks = createInProcessLocks();
    const order: string[] = [];
    const work = (name: string, keys: string[], ms: number) =>
      locks.withLocks(keys, async () => {
        order.push(`${name}+`);
        await sleep(ms);
        order.push(`${name}-`);
      });
    await Promise.all([work('a', ['k'], 20), work('b', ['k'], 0), work('c', ['other'], 0)]);
    expect(order.indexOf('b+')).toBeGreaterThan(order.indexOf('a-'));
    expect(order.indexOf('c-')).toBeLessThan(order.indexOf('a-'));
  });

  it('take overlapping keys in one order, so callers naming them differently do not deadlock', async () => {
    const locks = createInProcessLocks();
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, i) => locks.withLocks(i % 2 ? ['x', 'y'] : ['y', 'x'], async () => i)),
    );
    expect(runs).toHaveLength(10);
  });
});

describe('generations', () => {
  it('stay the same while nothing under the key ends, and change when it does', async () => {
    const locks = createInProcessLocks();
    const before = await locks.generations(['k', 'j']);
    const taken = await locks.withLocks(['k'], async (generations) => generations);
    expect(unchangedSince(before, taken, ['k'])).toBe(true);
    const after = await locks.generations(['k', 'j']);
    expect(unchangedSince(before, after, ['k'])).toBe(false);
    expect(unchangedSince(before, after, ['j'])).toBe(true);
  });

  it('tell a caller that another one ended between its reading and its taking the key', async () => {
    const locks = createInProcessLocks();
    const before = await locks.generations(['k']);
    let release!: () => void;
    const other = locks.withLocks(['k'], () => new Promise<void>((resolve) => (release = resolve)));
    const mine = locks.withLocks(['k'], async (generations) => unchangedSince(before, generations, ['k']));
    await sleep(1);
    release();
    await other;
    expect(await mine).toBe(false);
  });

  it('count a key never read as changed, and forget idle keys after ten minutes', async () => {
    let now = 0;
    const locks = createInProcessLocks(() => now);
    expect(unchangedSince(undefined, await locks.generations(['k']), ['k'])).toBe(false);
    expect(unchangedSince(new Map(), await locks.generations(['k']), ['k'])).toBe(false);
    await locks.withLocks(['old'], async () => {});
    const remembered = await locks.generations(['old']);
    expect(remembered.get('old')).not.toBe('0');
    now = 10 * 60_000 + 1;
    await locks.withLocks(['new'], async () => {});
    // Forgotten: it reads as never released, which differs from what was read before.
    expect((await locks.generations(['old'])).get('old')).toBe('0');
    expect(unchangedSince(remembered, await locks.generations(['old']), ['old'])).toBe(false);
  });
});
