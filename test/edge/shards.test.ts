import { describe, expect, it } from 'vitest';
import { digestOf, SHARD_COUNT, shardName, shardOf } from '../../src/edge/shards.ts';

describe('shard choice', () => {
  it('hashes a key with SHA-256, so the object never sees the key itself', async () => {
    expect(await digestOf('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(await digestOf('Patient|https://fhir.nhs.uk/Id/nhs-number|9990000042')).not.toContain('999');
  });

  it('takes the first 32 bits of the digest modulo the count', () => {
    expect(shardOf('00000000ffff')).toBe(0);
    expect(shardOf('0000003f')).toBe(63);
    expect(shardOf('00000040')).toBe(0);
    expect(shardOf('ffffffff')).toBe(0xffffffff % SHARD_COUNT);
    expect(shardOf('ba7816bf', 10)).toBe(0xba7816bf % 10);
    expect(shardName(7)).toBe('shard-7');
  });

  it('spreads keys over every shard, none carrying much more than its share', async () => {
    const counts = new Array<number>(SHARD_COUNT).fill(0);
    const keys = 6_400;
    for (let i = 0; i < keys; i++) {
      const shard = shardOf(await digestOf(`ServiceRequest|B99901|https://gp.example/referrals|R-${i}`));
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    expect(Math.min(...counts)).toBeGreaterThan(60);
    expect(Math.max(...counts)).toBeLessThan(140);
  });

  it('always chooses the same shard for the same key', async () => {
    const digest = await digestOf('gp-system POST /fhir req-1');
    expect(shardOf(digest)).toBe(shardOf(await digestOf('gp-system POST /fhir req-1')));
  });

  it('refuses what is not a hex digest, and a count that is not a positive integer', () => {
    expect(() => shardOf('not-hex')).toThrow();
    expect(() => shardOf('00000000', 0)).toThrow();
    expect(() => shardOf('00000000', 1.5)).toThrow();
  });
});
