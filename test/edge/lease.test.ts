import { describe, expect, it } from 'vitest';
import { alarmToSet, backoff, isLive, mayTake, renewEvery } from '../../src/edge/lease.ts';

const lease = { holder: 'isolate-a', expiresAt: 1_000 };

describe('leases', () => {
  it('binds until its expiry and not at it', () => {
    expect(isLive(undefined, 0)).toBe(false);
    expect(isLive(lease, 999)).toBe(true);
    expect(isLive(lease, 1_000)).toBe(false);
  });

  it('may be taken when free, run out, or already the taker’s', () => {
    expect(mayTake(undefined, 'isolate-b', 0)).toBe(true);
    expect(mayTake(lease, 'isolate-b', 999)).toBe(false);
    expect(mayTake(lease, 'isolate-b', 1_000)).toBe(true);
    expect(mayTake(lease, 'isolate-a', 999)).toBe(true);
  });

  it('moves the alarm only earlier', () => {
    expect(alarmToSet(null, 1_000)).toBe(1_000);
    expect(alarmToSet(2_000, 1_000)).toBe(1_000);
    expect(alarmToSet(500, 1_000)).toBeUndefined();
    expect(alarmToSet(1_000, 1_000)).toBeUndefined();
  });

  it('is renewed three times per lease', () => {
    expect(renewEvery(30_000)).toBe(10_000);
    expect(renewEvery(1)).toBe(1);
  });

  it('is asked for again after a growing, bounded, jittered pause', () => {
    const low = () => 0;
    const high = () => 0.999_999;
    expect(backoff(0, 20, 500, low)).toBe(10);
    expect(backoff(0, 20, 500, high)).toBe(20);
    expect(backoff(3, 20, 500, high)).toBe(160);
    expect(backoff(10, 20, 500, high)).toBe(500);
    expect(backoff(10, 20, 500, low)).toBe(250);
  });
});
