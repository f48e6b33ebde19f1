import type { JtiLedger } from '../auth/tokens.ts';
import { callShard, type ShardNamespace } from './shard-calls.ts';
import { digestOf } from './shards.ts';

/**
 * The assertion ledger across isolates: an assertion accepted by one isolate is refused by every
 * other. Shards are chosen by client id, so each client's bound is kept by one object; the `jti`
 * is sent as a digest (it is the client's string, of any length).
 */
export function createDurableObjectJtiLedger(namespace: ShardNamespace, clock: () => Date): JtiLedger {
  return {
    async claim(clientId, jti, expiresAt) {
      const args = {
        clientId,
        jti: await digestOf(jti),
        attempt: crypto.randomUUID(),
        expiresAt,
        now: clock().getTime(),
      };
      const { accepted } = await callShard<{ accepted: boolean }>(
        namespace,
        await digestOf(clientId),
        'claim',
        args,
      );
      return accepted;
    },
  };
}
