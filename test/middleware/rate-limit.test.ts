import { describe, expect, it } from 'vitest';
import { createInProcessRateLimiter } from '../../src/middleware/rate-limit.ts';

const MINUTE = 60_000;

/** A limiter on a clock the test moves. */
function limiterAt(perMinute: number, start = new Date('2026-11-20T09:00:00.000Z')) {
  let now = start;
  const limiter = createInProcessRateLimiter(perMinute, () => now);
  return {
    allowed: async (key: string) => (await limiter.limit({ key })).success,
    advance(ms: number) {
      now = new Date(now.getTime() + ms);
    },
  };
}

describe('the in-process rate limiter', () => {
  it('keeps an existing client’s count through a flood of new keys in the same minute', async () => {
    const l = limiterAt(3);
    for (let i = 0; i < 3; i++) expect(await l.allowed('client a')).toBe(true);
    expect(await l.allowed('client a')).toBe(false);
    for (let i = 0; i < 20_000; i++) await l.allowed(`address ${i}`);
    // Still over its allowance: the flood did not forget its window.
    expect(await l.allowed('client a')).toBe(false);
    // A client that had been under its allowance keeps what it had used, no more and no less.
    const m = limiterAt(3);
    expect(await m.allowed('client b')).toBe(true);
    for (let i = 0; i < 20_000; i++) await m.allowed(`address ${i}`);
    expect(await m.allowed('client b')).toBe(true);
    expect(await m.allowed('client b')).toBe(true);
    expect(await m.allowed('client b')).toBe(false);
  });

  it('forgets windows once their minute is over, so new keys are counted again', async () => {
    const l = limiterAt(3);
    for (let i = 0; i < 10_000; i++) expect(await l.allowed(`address ${i}`)).toBe(true);
    // Full of live windows: a key without one waits for them to expire rather than resetting any.
    expect(await l.allowed('newcomer')).toBe(false);
    expect(await l.allowed('address 0')).toBe(true);
    l.advance(MINUTE);
    expect(await l.allowed('newcomer')).toBe(true);
    for (let i = 0; i < 3; i++) expect(await l.allowed('address 0')).toBe(true);
    expect(await l.allowed('address 0')).toBe(false);
  });

  it('gives every key its allowance afresh each minute', async () => {
    const l = limiterAt(2);
    expect([await l.allowed('k'), await l.allowed('k'), await l.allowed('k')]).toEqual([true, true, false]);
    expect(await l.allowed('other')).toBe(true);
    l.advance(MINUTE);
    expect([await l.allowed('k'), await l.allowed('k'), await l.allowed('k')]).toEqual([true, true, false]);
  });
});
