import { afterEach, describe, expect, it } from 'vitest';
import { dohResolver, workerSender } from '../../src/edge/notifications.ts';
import { nodeSender } from '../../src/subscriptions/node-sender.ts';
import { type Receiver, startReceiver } from '../support/receiver.ts';

// The ways a notification leaves: Node's sender, which connects only to addresses the endpoint
// rules allow whatever a name resolves to by then, and the Worker's resolver and sender.

let hook: Receiver | undefined;
afterEach(async () => {
  await hook?.close();
  hook = undefined;
});

const post = { headers: { 'content-type': 'application/fhir+json' }, body: '{}' };

describe('the Node sender', () => {
  it('connects to a name resolving to loopback only when loopback is allowed', async () => {
    hook = await startReceiver();
    // `localhost` is a name: its addresses are checked as the connection is made.
    const byName = new URL(hook.url.replace('127.0.0.1', 'localhost'));
    const signal = () => AbortSignal.timeout(2_000);
    await expect(
      nodeSender({ allowLoopback: false })(byName, { ...post, signal: signal() }),
    ).rejects.toThrow();
    expect(hook.received).toHaveLength(0);
    expect((await nodeSender({ allowLoopback: true })(byName, { ...post, signal: signal() })).status).toBe(
      200,
    );
    expect(hook.received).toHaveLength(1);
    // An address given as such is checked before anything is sent.
    await expect(
      nodeSender({ allowLoopback: false })(new URL(hook.url), { ...post, signal: signal() }),
    ).rejects.toThrow(/not sent to/);
    expect(hook.received).toHaveLength(1);
  });

  it('does not follow a redirect, and sends an empty body with no content type', async () => {
    hook = await startReceiver();
    const target = await startReceiver();
    try {
      hook.plan({ redirect: target.url });
      const send = nodeSender({ allowLoopback: true });
      const answer = await send(new URL(hook.url), {
        headers: {},
        body: '',
        signal: AbortSignal.timeout(2_000),
      });
      expect(answer.status).toBe(302);
      expect(target.received).toHaveLength(0);
      expect(hook.received[0]?.body).toBe('');
      expect(hook.received[0]?.headers['content-type']).toBeUndefined();
    } finally {
      await target.close();
    }
  });
});

describe('the Worker’s resolver and sender', () => {
  const answering = (answers: Record<string, unknown>) =>
    (async (input: string | URL | Request) => {
      const url = new URL(String(input));
      return Response.json(answers[url.searchParams.get('type') ?? ''] ?? { Status: 0 });
    }) as typeof fetch;

  it('gives the A and AAAA addresses of a name, following no CNAME record as an address', async () => {
    const resolve = dohResolver(
      answering({
        A: {
          Status: 0,
          Answer: [
            { type: 5, data: 'alias.example.org.' },
            { type: 1, data: '93.184.216.34' },
          ],
        },
        AAAA: { Status: 0, Answer: [{ type: 28, data: '2606:2800:220:1::1' }] },
      }),
    );
    expect(await resolve('hooks.example.org')).toEqual(['93.184.216.34', '2606:2800:220:1::1']);
  });

  it('answers no address for a name that does not exist, and fails (to be tried again) when resolving fails', async () => {
    expect(
      await dohResolver(answering({ A: { Status: 3 }, AAAA: { Status: 3 } }))('nowhere.example.org'),
    ).toEqual([]);
    await expect(
      dohResolver(answering({ A: { Status: 2 }, AAAA: { Status: 0 } }))('x.example.org'),
    ).rejects.toThrow();
  });

  it('posts without following redirects, with no body when there is none', async () => {
    const seen: RequestInit[] = [];
    const send = workerSender((async (_url: string | URL | Request, init?: RequestInit) => {
      seen.push(init ?? {});
      return new Response('moved', { status: 301, headers: { location: 'https://elsewhere.example.org/' } });
    }) as typeof fetch);
    const answer = await send(new URL('https://hooks.example.org/'), {
      headers: {},
      body: '',
      signal: AbortSignal.timeout(1_000),
    });
    expect(answer.status).toBe(301);
    expect(seen[0]?.redirect).toBe('manual');
    expect(seen[0]?.body).toBeUndefined();
  });
});
