import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import type { AuditEvent, Bundle, Resource } from '@medplum/fhirtypes';
import { HttpResponse, http, passthrough } from 'msw';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import keys from '../examples/auth/test-client-keys.json' with { type: 'json' };
import { uniqueReferral } from '../scripts/bench/referrals.ts';
import { compare, loadExamples, toRequestInit } from '../scripts/examples-lib.ts';
import { getAccessToken } from '../scripts/smart-client.ts';
import { indexDefinitions } from '../src/fhir/definitions.ts';
import { EmbeddedRepository } from '../src/medplum/embedded/repository.ts';
import { seedEmbeddedStore } from '../src/medplum/embedded/seed.ts';
import { createEmbeddedMedplum } from '../src/medplum/embedded/server.ts';
import { createMedplumClient, createMedplumStore } from '../src/medplum/store.ts';
import { server } from './support/msw.ts';
import { freePort, startService, stopService } from './support/service-process.ts';

// `npm start` itself, as a child process on a data directory: stopped and restarted, and killed
// in the middle of writes.

const PROJECT = fileURLToPath(new URL('..', import.meta.url));
const children: ChildProcess[] = [];
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sp-service-'));
  // These tests talk to a real local process; everything else stays closed.
  server.use(
    http.all(/^http:\/\/127\.0\.0\.1:\d+\//, () => passthrough()),
    http.all('*', () => HttpResponse.error()),
  );
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const start = (env: Record<string, string> = {}) => startService(dir, children, env);
const stop = stopService;

async function getJson<T = Bundle>(url: string): Promise<T> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

/** Every stored resource of the referral journey, each with its whole history, read through the facade. */
async function everything(base: string): Promise<Record<string, unknown>> {
  const types = [
    'Patient',
    'Organization',
    'Practitioner',
    'ServiceRequest',
    'Task',
    'Consent',
    'Provenance',
  ];
  const result: Record<string, unknown> = {};
  for (const type of types) {
    const bundle = await getJson(`${base}/fhir/${type}?_count=100`);
    for (const entry of bundle.entry ?? []) {
      const resource = entry.resource as Resource;
      const history = await getJson(`${base}/fhir/${type}/${resource.id}/_history`);
      result[`${type}/${resource.id}`] = { resource, history: history.entry?.map((e) => e.resource) };
    }
  }
  return result;
}

/** A bearer token from the service for a test client of examples/auth. */
async function bearer(base: string, clientId: string, scope: string): Promise<string> {
  const key = keys.keys.find((k) => k.clientId === clientId);
  if (!key) throw new Error(`no test key for ${clientId}`);
  return `Bearer ${await getAccessToken(fetch, base, key, scope)}`;
}

/** The request ids of the stored AuditEvents of Organization searches, one per AuditEvent. */
async function auditedSearches(base: string, authorization: string): Promise<string[]> {
  const response = await fetch(
    `${base}/fhir/AuditEvent?entity-type=${encodeURIComponent('http://hl7.org/fhir/resource-types|Organization')}&_count=100`,
    { headers: { authorization } },
  );
  expect(response.status).toBe(200);
  const bundle = (await response.json()) as Bundle<AuditEvent>;
  return (bundle.entry ?? []).map((e) => e.resource?.entity?.[0]?.what?.identifier?.value ?? '');
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('npm start on a data directory', () => {
  it('answers oversized headers with a 431 OperationOutcome, and goes on serving', async () => {
    const { base } = await start();
    const response = await fetch(`${base}/metadata`, { headers: { 'x-padding': 'x'.repeat(20_000) } });
    expect(response.status).toBe(431);
    expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const outcome = (await response.json()) as { resourceType: string; issue: { code: string }[] };
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]?.code).toBe('too-long');
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('refuses a directory holding records of people from before each organisation kept its own, and starts on a current one', async () => {
    // A store as an earlier version left it: a person on record, the record model unnamed.
    const repo = EmbeddedRepository.open({ dir });
    await repo.createResource({ resourceType: 'Patient', identifier: [{ value: '9990000018' }] });
    repo.close();
    const port = await freePort();
    const child = spawn(process.execPath, ['src/node.ts'], {
      cwd: PROJECT,
      env: { ...process.env, DATA_DIR: dir, PORT: String(port), LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output).toMatch(/earlier version/);
    expect(output).toMatch(/empty DATA_DIR/);
    expect(output).not.toContain('9990000018');
    // A new directory starts, and starts again once people are on record.
    rmSync(dir, { recursive: true, force: true });
    const first = await start();
    expect((await fetch(`${first.base}/health/ready`)).status).toBe(200);
    await stop(first.child, 'SIGTERM');
  });

  it('has every referral, version and history entry back after a stop and restart, and seeds only once', async () => {
    const first = await start();
    expect(first.output()).toContain('example resources loaded');
    for (const example of loadExamples('referrals')) {
      const response = await fetch(`${first.base}${example.request.path}`, toRequestInit(example.request));
      expect(await compare(example.response, response), example.name).toEqual([]);
    }
    const before = await everything(first.base);
    const versions = Object.values(before).map((r) => (r as { history: unknown[] }).history.length);
    expect(Math.max(...versions)).toBeGreaterThan(1);
    await stop(first.child, 'SIGTERM');

    const second = await start();
    expect(second.output()).not.toContain('example resources loaded');
    expect(await everything(second.base)).toEqual(before);
  });

  it('loses at most the writes in flight when killed mid-write, and restarts on a consistent store', async () => {
    const first = await start();
    const acknowledged: number[] = [];
    let next = 0;
    let killed = false;
    const post = async () => {
      while (!killed) {
        const n = next++;
        try {
          const response = await fetch(`${first.base}/fhir`, {
            method: 'POST',
            headers: { 'content-type': 'application/fhir+json' },
            body: uniqueReferral(n, 'kill'),
          });
          if (response.status === 200) acknowledged.push(n);
        } catch {
          // The connection died with the process.
        }
      }
    };
    const senders = Array.from({ length: 4 }, post);
    while (acknowledged.length < 30) {
      if (first.child.exitCode !== null) throw new Error(`service stopped:\n${first.output()}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const exited = once(first.child, 'exit');
    first.child.kill('SIGKILL');
    killed = true;
    await Promise.all([exited, ...senders]);

    const db = new DatabaseSync(join(dir, 'store.sqlite'));
    expect(db.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
    db.close();

    const second = await start();
    const referrals = await getJson(
      `${second.base}/fhir/ServiceRequest?_count=100&_revinclude=Task:focus&_revinclude=Provenance:target`,
    );
    const entries = (referrals.entry ?? []).map((e) => e.resource as Resource & Record<string, never>);
    const requests = entries.filter((r) => r.resourceType === 'ServiceRequest');
    const ids = requests.map((r) => (r.identifier as { value: string }[])[0]?.value);
    for (const n of acknowledged) expect(ids).toContain(`BENCH-kill-${n}`);
    // Every referral that was written at all was written whole: its Task and Provenance with it.
    for (const request of requests) {
      const ref = `ServiceRequest/${request.id}`;
      const tasks = entries.filter((r) => r.resourceType === 'Task' && r.focus?.reference === ref);
      const provenances = entries.filter(
        (r) =>
          r.resourceType === 'Provenance' &&
          (r.target as { reference: string }[]).some((t) => t.reference === ref),
      );
      expect([tasks.length, provenances.length]).toEqual([1, 1]);
    }
    // A new person is written just before the referral naming them: a kill between the two leaves
    // the person on record (the sender's resend finds them), one at most per sender in flight.
    const patients = await getJson(`${second.base}/fhir/Patient?_count=100`);
    expect(patients.total).toBeGreaterThanOrEqual(requests.length);
    expect(patients.total).toBeLessThanOrEqual(requests.length + senders.length);
    const stored = new Set((patients.entry ?? []).map((e) => `Patient/${e.resource?.id}`));
    for (const request of requests)
      expect(stored).toContain((request.subject as { reference: string }).reference);
  });

  it('loses no audit record when killed with records pending, and stores each once after the restart', async () => {
    const secured = { AUTH_CLIENTS_FILE: join(PROJECT, 'examples/auth/clients.json') };
    // The first record delivered is written and then held unacknowledged: the rest queue behind it.
    const first = await start({ ...secured, TEST_OUTBOX_ACK_DELAY_MS: '600000' });
    const gp = await bearer(first.base, 'riverside-medical-gp-system', 'system/*.rs');
    const auditor = await bearer(first.base, 'information-governance-audit', 'system/AuditEvent.rs');
    const ids = Array.from({ length: 12 }, (_, i) => `outbox-kill-${i}-${crypto.randomUUID().slice(0, 8)}`);
    for (const id of ids) {
      const response = await fetch(`${first.base}/fhir/Organization`, {
        headers: { authorization: gp, 'x-request-id': id },
      });
      expect(response.status).toBe(200);
    }
    await until(
      async () => (await auditedSearches(first.base, auditor)).includes(ids[0] as string),
      'written',
    );
    expect((await auditedSearches(first.base, auditor)).filter((id) => ids.includes(id))).toEqual([ids[0]]);
    await stop(first.child, 'SIGKILL');

    // Restarted: every pending record is delivered, the one written but unacknowledged again.
    const second = await start(secured);
    const reader = await bearer(second.base, 'information-governance-audit', 'system/AuditEvent.rs');
    const all = async () => {
      const stored = await auditedSearches(second.base, reader);
      return ids.every((id) => stored.includes(id));
    };
    await until(all, 'every record is stored');
    const stored = await auditedSearches(second.base, reader);
    expect(ids.map((id) => stored.filter((s) => s === id).length)).toEqual(ids.map(() => 1));
  });
});

describe('queued referrals under one identifier, across kill -9 (npm start on a remote Medplum)', () => {
  // Rounds of the race; ASYNC_ORDER_ROUNDS=10 runs it ten times.
  const ROUNDS = Number(process.env.ASYNC_ORDER_ROUNDS ?? 1);

  /** A Medplum over loopback HTTP (the embedded one), that can be made to answer 503 throughout. */
  async function medplumBehindSwitch() {
    // Its searches need the R4 search parameters indexed in this process.
    indexDefinitions();
    const medplum = createEmbeddedMedplum();
    const switched = { down: false };
    const proxy = serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: (request: Request) =>
        switched.down
          ? Response.json({ resourceType: 'OperationOutcome', issue: [] }, { status: 503 })
          : medplum.fetch(request),
    });
    await once(proxy, 'listening');
    const baseUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}/`;
    await seedEmbeddedStore(
      createMedplumStore(
        createMedplumClient({ baseUrl, clientId: 'seed', clientSecret: 'seed', timeoutMs: 10_000 }),
      ),
    );
    return { baseUrl, switched, close: () => proxy.close() };
  }

  /** The queued referrals in the outbox of a stopped process: their order and when each is due. */
  function queuedReferrals(): { seq: number; due_at: number; order_key: string }[] {
    const db = new DatabaseSync(join(dir, 'outbox.sqlite'), { readOnly: true });
    try {
      return db
        .prepare("SELECT seq, due_at, order_key FROM outbox WHERE kind = 'referral-intake' ORDER BY seq")
        .all() as { seq: number; due_at: number; order_key: string }[];
    } finally {
      db.close();
    }
  }

  it(
    `writes the first accepted first, though the later one is due first after the restart (${ROUNDS} round${ROUNDS === 1 ? '' : 's'})`,
    async () => {
      const medplum = await medplumBehindSwitch();
      try {
        const env = {
          MEDPLUM_BASE_URL: medplum.baseUrl,
          MEDPLUM_CLIENT_ID: 'facade',
          MEDPLUM_CLIENT_SECRET: 'facade',
        };
        for (let round = 0; round < ROUNDS; round++) {
          const referralId = `ORDER-KILL-${round}-${crypto.randomUUID().slice(0, 8)}`;
          const body = (n: number) => uniqueReferral(n, 'ORDER').replaceAll(`BENCH-ORDER-${n}`, referralId);
          const sendLater = (base: string, n: number) =>
            fetch(`${base}/fhir`, {
              method: 'POST',
              headers: { 'content-type': 'application/fhir+json', prefer: 'respond-async' },
              body: body(n),
            });
          medplum.switched.down = true;
          const first = await start(env);
          // The first is tried, and fails, a few times (its next try backs off further each time)...
          const earlier = await sendLater(first.base, 2 * round + 1);
          expect(earlier.status).toBe(202);
          await new Promise((r) => setTimeout(r, 3_000));
          // ... then a different referral under the same identifier is accepted, and tried once.
          const later = await sendLater(first.base, 2 * round + 2);
          expect(later.status).toBe(202);
          await new Promise((r) => setTimeout(r, 300));
          await stop(first.child, 'SIGKILL');
          // The later one is due first: only the order key keeps it behind.
          const [a, b] = queuedReferrals().slice(-2);
          expect(a?.order_key).toBe(b?.order_key);
          expect(b?.due_at).toBeLessThan(a?.due_at as number);

          medplum.switched.down = false;
          const second = await start(env);
          const answer = async (response: Response) => {
            const path = new URL(response.headers.get('content-location') as string).pathname;
            let status = 202;
            await until(async () => {
              status = (await fetch(`${second.base}${path}`)).status;
              return status !== 202;
            }, 'the job is answered');
            return status;
          };
          expect([await answer(earlier), await answer(later)]).toEqual([200, 409]);
          await stop(second.child, 'SIGTERM');
        }
      } finally {
        medplum.close();
      }
    },
    60_000 + ROUNDS * 30_000,
  );
});
