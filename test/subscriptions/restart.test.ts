import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceRequest } from '@medplum/fhirtypes';
import { HttpResponse, http, passthrough } from 'msw';
// Not the global fetch, which the test setup holds to the fake Medplum's handlers.
import { fetch } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { server } from '../support/msw.ts';
import { SECRET, subscription } from '../support/notifications.ts';
import { type Receiver, signedWith, startReceiver } from '../support/receiver.ts';
import { exampleBody } from '../support/referrals.ts';
import { freePort, startService, stopService } from '../support/service-process.ts';

// `npm start` killed with notifications still to send: they are sent once it starts again.

const children: ChildProcess[] = [];
let dir: string;
let hook: Receiver | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sp-notify-'));
  server.use(
    http.all(/^http:\/\/127\.0\.0\.1:\d+\//, () => passthrough()),
    http.all('*', () => HttpResponse.error()),
  );
});

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await hook?.close();
  hook = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const post = (base: string, path: string, body: unknown) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify(body),
  });

describe('notifications across a kill -9', () => {
  it('a notification its endpoint could not take before the process was killed is sent after the restart', async () => {
    // The open local mode, which allows loopback endpoints; nothing listens at the endpoint yet.
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}/hook`;
    const first = await startService(dir, children);
    const created = await post(
      first.base,
      '/fhir/Subscription',
      subscription('ServiceRequest?status=active', endpoint),
    );
    expect(created.status).toBe(201);
    const sent = await post(first.base, '/fhir', exampleBody('01-gp-transaction-bundle.200'));
    expect(sent.status).toBe(200);
    // Its first attempt finds nothing listening, and the next is a second or two away.
    await new Promise((r) => setTimeout(r, 500));
    await stopService(first.child, 'SIGKILL');

    hook = await startReceiver('/hook', port);
    expect(hook.received).toHaveLength(0);
    await startService(dir, children);
    const [got] = await hook.waitFor(1, 15_000);
    expect(signedWith(SECRET, got as never)).toBe(true);
    expect((JSON.parse(got?.body ?? '{}') as ServiceRequest).status).toBe('active');
  });
});
