/**
 * Which Durable Object holds a key: keys are spread over a fixed number of objects by a hash of
 * the key, so no single object carries every isolate's traffic. Keys reach the objects only as
 * their SHA-256 digests: lock keys name NHS numbers, and storage never needs the original.
 */

/** The Durable Object bindings, as wrangler.toml names them. */
export const SHARD_BINDINGS = {
  locks: 'LOCK_SHARDS',
  replay: 'REPLAY_SHARDS',
  jtis: 'JTI_SHARDS',
  asyncJobs: 'ASYNC_JOB_SHARDS',
} as const;

/** Objects per concern. Changing it moves keys between objects, so only with nothing in flight. */
export const SHARD_COUNT = 64;

/** The SHA-256 digest of a key, as 64 hex characters. */
export async function digestOf(key: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The shard (0 to count - 1) of a hex digest: its first 32 bits, modulo the count. */
export function shardOf(digest: string, count = SHARD_COUNT): number {
  if (!/^[0-9a-f]{8}/.test(digest)) throw new Error('A shard is chosen from a hex digest');
  if (!Number.isInteger(count) || count < 1) throw new Error('The shard count must be a positive integer');
  return Number.parseInt(digest.slice(0, 8), 16) % count;
}

/** The name a shard's object is found by (`idFromName`). */
export function shardName(shard: number): string {
  return `shard-${shard}`;
}
