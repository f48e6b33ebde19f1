import { describe, expect, it, vi } from 'vitest';
import {
  callShard,
  isShardNamespace,
  type ShardNamespace,
  serveShardCall,
} from '../../src/edge/shard-calls.ts';
import { digestOf, shardName, shardOf } from '../../src/edge/shards.ts';
import { FhirError } from '../../src/fhir/outcomes.ts';

/** A namespace whose objects answer with `answer`, recording which object each call went to. */
function fakeNamespace(answer: (op: string, args: unknown) => Promise<Response>) {
  const calls: { name: string; op: string; args: unknown }[] = [];
  const namespace: ShardNamespace = {
    idFromName: (name) => ({ name }),
    get: (id) => ({
      async fetch(input, init) {
        const op = new URL(input).pathname.slice(1);
        const args = JSON.parse(String(init?.body));
        calls.push({ name: (id as { name: string }).name, op, args });
        return answer(op, args);
      },
    }),
  };
  return { namespace, calls };
}

describe('calls to the shard objects', () => {
  it('tells a Durable Object namespace from anything else', () => {
    expect(isShardNamespace(fakeNamespace(async () => Response.json(null)).namespace)).toBe(true);
    expect(isShardNamespace(undefined)).toBe(false);
    expect(isShardNamespace('LOCK_SHARDS')).toBe(false);
    expect(isShardNamespace({ idFromName: () => 1 })).toBe(false);
  });

  it('posts the arguments to the object the digest names and answers what it answered', async () => {
    const { namespace, calls } = fakeNamespace(async () => Response.json({ granted: true }));
    const digest = await digestOf('ServiceRequest|B99901|sys|R1');
    const args = { key: digest, holder: 'h', leaseMs: 1, waitMs: 0 };
    expect(await callShard(namespace, digest, 'acquire', args)).toEqual({ granted: true });
    expect(calls).toEqual([{ name: shardName(shardOf(digest)), op: 'acquire', args }]);
  });

  it('retries an error the platform marks retryable, twice', async () => {
    let failures = 2;
    const { namespace, calls } = fakeNamespace(async () => {
      if (failures-- > 0) throw Object.assign(new Error('Network connection lost'), { retryable: true });
      return Response.json({ ok: true });
    });
    expect(await callShard(namespace, '00000000', 'renew', {})).toEqual({ ok: true });
    expect(calls).toHaveLength(3);
  });

  it('answers an outage (503, Retry-After) for an object that fails, is overloaded or refuses', async () => {
    const failing = [
      async () => {
        throw new Error('boom');
      },
      async () => {
        throw Object.assign(new Error('overloaded'), { retryable: true, overloaded: true });
      },
      async () => new Response(null, { status: 500 }),
    ];
    for (const answer of failing) {
      const { namespace, calls } = fakeNamespace(answer);
      const error = await callShard(namespace, '00000000', 'begin', {}).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(FhirError);
      expect((error as FhirError).kind).toBe('unavailable');
      expect((error as FhirError).headers).toEqual({ 'Retry-After': '5' });
      expect(calls).toHaveLength(1);
    }
  });
});

describe('an object serving calls', () => {
  const post = (op: string, body: unknown, method = 'POST') =>
    new Request(`https://shard.internal/${op}`, { method, body: JSON.stringify(body) });

  it('runs the operation the path names, 404 for any other or another method', async () => {
    const operations = { claim: (args: Record<string, unknown>) => ({ accepted: args.jti === 'j1' }) };
    expect(await (await serveShardCall(operations, post('claim', { jti: 'j1' }))).json()).toEqual({
      accepted: true,
    });
    expect((await serveShardCall(operations, post('toString', {}))).status).toBe(404);
    expect((await serveShardCall(operations, post('nope', {}))).status).toBe(404);
    expect((await serveShardCall(operations, new Request('https://shard.internal/claim'))).status).toBe(404);
  });

  it('answers 500 to a failed operation, logging its error’s name and not its message', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const operations = {
      claim: () => {
        throw new TypeError('jti 9990000042 is odd');
      },
    };
    expect((await serveShardCall(operations, post('claim', {}))).status).toBe(500);
    expect(log.mock.calls.join(' ')).toContain('TypeError');
    expect(log.mock.calls.join(' ')).not.toContain('9990000042');
    log.mockRestore();
  });
});
