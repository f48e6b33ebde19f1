import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One notification as the receiver got it. */
export interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
}

/** What the receiver does with the next request: answer a status, or never answer. */
export type Behaviour = number | 'hang' | { redirect: string };

/**
 * A real HTTP receiver on loopback: records every POST, and answers as told, request by request
 * (then 200 once the list is used up).
 */
export interface Receiver {
  url: string;
  received: Received[];
  /** Answers for the next requests, in order. */
  plan(...behaviours: Behaviour[]): void;
  /** Resolves once `count` notifications have arrived, or rejects after `ms`. */
  waitFor(count: number, ms?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(path = '/hook', port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const planned: Behaviour[] = [];
  const hanging = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const behaviour = planned.shift() ?? 200;
      const status = typeof behaviour === 'number' ? behaviour : behaviour === 'hang' ? 0 : 302;
      received.push({
        at: Date.now(),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        status,
      });
      if (behaviour === 'hang') {
        hanging.add(() => res.destroy());
        return;
      }
      if (typeof behaviour === 'object') {
        res.writeHead(302, { Location: behaviour.redirect }).end();
        return;
      }
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end('x'.repeat(10_000));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const listening = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${listening}${path}`,
    received,
    plan: (...behaviours) => planned.push(...behaviours),
    async waitFor(count, ms = 5_000) {
      const until = Date.now() + ms;
      while (received.length < count) {
        if (Date.now() > until) throw new Error(`${received.length} of ${count} notifications arrived`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return received.slice(0, count);
    },
    async close() {
      for (const end of hanging) end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Whether the notification's `X-Signature` is the hex HMAC-SHA256 of its body with `secret`. */
export function signedWith(secret: string, notification: Received): boolean {
  return (
    createHmac('sha256', secret).update(notification.body).digest('hex') ===
    notification.headers['x-signature']
  );
}
