import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Subscription } from '@medplum/fhirtypes';
// Not the global fetch, which the test setup holds to the fake Medplum's handlers.
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type NotifiedApp, notifiedApp } from '../support/notifications.ts';
import { exampleBody } from '../support/referrals.ts';
import { GP, SP } from '../support/secured.ts';

// The walk-through of the README, run: examples/notifications/receiver.ts listening, the GP's
// example subscriptions posted, the service accepting the referral, the receiver told.

const EXAMPLES = new URL('../../examples/notifications/', import.meta.url);
const example = (file: string) => JSON.parse(readFileSync(new URL(file, EXAMPLES), 'utf8')) as Subscription;
const SECRET = 'riverside-example-secret-change-me';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

interface Running {
  process: ChildProcess;
  lines: string[];
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
}

async function startExampleReceiver(port: number): Promise<Running> {
  const child = spawn(
    process.execPath,
    [new URL('receiver.ts', EXAMPLES).pathname, '--secret', SECRET, '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  child.stdout?.on('data', (d: Buffer) => lines.push(...d.toString('utf8').split('\n').filter(Boolean)));
  const running: Running = {
    process: child,
    lines,
    async waitFor(pattern, ms = 5_000) {
      const until = Date.now() + ms;
      for (;;) {
        const line = lines.find((l) => pattern.test(l));
        if (line) return line;
        if (Date.now() > until) throw new Error(`no line matching ${pattern} in: ${lines.join(' | ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
  await running.waitFor(/^Receiving notifications/);
  return running;
}

const started: (Running | NotifiedApp)[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) {
    if ('process' in s) s.process.kill();
    else await s.stop();
  }
});

describe('examples/notifications', () => {
  it('the GP subscribes, the service accepts the referral, the receiver verifies and prints it', async () => {
    const port = await freePort();
    const receiver = await startExampleReceiver(port);
    started.push(receiver);
    const a = await notifiedApp();
    started.push(a);
    const gp = await a.token(GP, 'system/ServiceRequest.crs system/*.rs system/Subscription.cruds');
    const sp = await a.token(SP, 'system/*.rs system/Task.rus');
    for (const file of ['gp-subscription.json', 'gp-topic-subscription.json']) {
      const body = example(file);
      body.channel.endpoint = (body.channel.endpoint as string).replace('9911', String(port));
      const created = await a.as(gp, '/fhir/Subscription', { body });
      expect(created.status, file).toBe(201);
    }
    const sent = await a.as(gp, '/fhir', { body: exampleBody('01-gp-transaction-bundle.200') });
    const srId = (await sent.text()).match(/ServiceRequest\/([\w-]+)\/_history/)?.[1];
    const accepted = await a.as(sp, `/referrals/${srId}/$accept`, {
      body: {},
      headers: { 'content-type': 'application/json' },
    });
    expect(accepted.status).toBe(200);
    expect(await receiver.waitFor(/^verified [\w-]+: Task\/[\w-]+ is accepted$/)).toBeTruthy();
    expect(await receiver.waitFor(/^verified [\w-]+: event 1 on .*\/fhir\/Task\/[\w-]+$/)).toBeTruthy();
    expect(receiver.lines.some((l) => l.startsWith('REFUSED'))).toBe(false);
  });

  it('refuses a notification whose signature does not verify, and drops a repeat', async () => {
    const port = await freePort();
    const receiver = await startExampleReceiver(port);
    started.push(receiver);
    const body = JSON.stringify({ resourceType: 'Task', id: 't1', status: 'completed' });
    const post = (signature: string, id: string) =>
      fetch(`http://127.0.0.1:${port}/notifications`, {
        method: 'POST',
        body,
        headers: {
          'x-signature': signature,
          'x-notification-id': id,
          'content-type': 'application/fhir+json',
        },
      });
    const good = createHmac('sha256', SECRET).update(body).digest('hex');
    const forged = createHmac('sha256', 'not-the-secret').update(body).digest('hex');
    expect((await post(forged, 'n-1')).status).toBe(401);
    expect((await post(good, 'n-2')).status).toBe(200);
    expect((await post(good, 'n-2')).status).toBe(200);
    await receiver.waitFor(/^repeat n-2/);
    expect(receiver.lines.filter((l) => l.includes('n-'))).toEqual([
      'REFUSED n-1: the signature does not verify',
      'verified n-2: Task/t1 is completed',
      'repeat n-2: already had it, dropped',
    ]);
  });
});
