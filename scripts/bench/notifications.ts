/**
 * `npm run bench` (part): notifications on the embedded store, in process, clients registered,
 * delivered over HTTP to a receiver on loopback, as `npm start` wires them.
 *   1. intake (a GP's transaction Bundle) p50 and p99 with no subscriptions, then with 100 (one of
 *      them matching every new referral's Task), the notification loop running beside it
 *   2. latency from a change's answer to its notification's arrival, p50 and p99, with 100
 *      subscriptions (one per referral) and BENCH_NOTIFY_CHANGES changes (default 1,000) made one
 *      after another, each matching one subscription
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { createApp } from '../../src/app.ts';
import { createStoreAuditSink } from '../../src/audit/audit-sink.ts';
import { createAuthMode } from '../../src/auth/mode.ts';
import { generateSigningKeyJwk } from '../../src/auth/tokens.ts';
import { parseConfig } from '../../src/config.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { createJsonLogger } from '../../src/logger.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import { SqliteOutbox } from '../../src/outbox/sqlite-outbox.ts';
import { nodeResolver, nodeSender } from '../../src/subscriptions/node-sender.ts';
import {
  NOTIFICATION_CONCURRENCY,
  NOTIFICATION_POLICY,
  wireNotifications,
} from '../../src/subscriptions/notifications.ts';
import { getAccessToken } from '../smart-client.ts';
import { testClientKey } from '../test-client-keys.ts';
import { uniqueReferral } from './referrals.ts';

const CHANGES = Number(process.env.BENCH_NOTIFY_CHANGES ?? 1_000);
const SUBSCRIPTIONS = 100;
const INTAKES = 200;
const BASE = 'http://bench.local';
const SECRET = 'bench-notification-secret-0123456789';

indexDefinitions();
const { store } = createEmbeddedStore({ timeoutMs: 60_000 });
await seedEmbeddedStore(store);
const logger = createJsonLogger('silent');
const audit = createStoreAuditSink(store, logger);
const policy = { allowLoopback: true };
let outbox: SqliteOutbox | undefined;
const notifications = wireNotifications({
  store,
  outbox: { enqueue: (kind, payload, options) => outbox?.enqueue(kind, payload, options) },
  clock: () => new Date(),
  logger,
  openMode: false,
  policy,
  resolve: nodeResolver,
  send: nodeSender(policy),
  timeoutMs: 5_000,
  fhirBase: `${BASE}/fhir`,
  audit: () => audit,
  maxAttempts: NOTIFICATION_POLICY.maxAttempts,
});
outbox = new SqliteOutbox(new DatabaseSync(':memory:'), {
  table: 'notification_outbox',
  concurrency: NOTIFICATION_CONCURRENCY,
  handlers: notifications.handlers,
  deadLetterHandlers: notifications.deadLetterHandlers,
  policy: NOTIFICATION_POLICY,
  logger,
});
outbox.start();
const registry = await import('../../examples/auth/clients.json', { with: { type: 'json' } });
const app = createApp({
  config: parseConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '10000000', PUBLIC_BASE_URL: BASE }),
  store: notifications.store,
  clock: () => new Date(),
  newId: () => crypto.randomUUID(),
  logger,
  auth: await createAuthMode({
    clients: JSON.stringify(registry.default),
    signingKey: JSON.stringify(await generateSigningKeyJwk()),
    openWhenUnconfigured: false,
    clock: () => new Date(),
  }),
  audit,
  subscriptions: notifications.subscriptions,
});
const token = (clientId: string, scope: string) =>
  getAccessToken((r) => app.fetch(r), BASE, testClientKey(clientId), scope);
const gp = await token(
  'riverside-medical-gp-system',
  'system/ServiceRequest.crs system/*.rs system/Subscription.cruds',
);
const sp = await token('riverside-social-prescribing', 'system/*.rs system/Task.rus');

async function send(bearer: string, method: string, path: string, body?: unknown, type = 'application/json') {
  const response = await app.fetch(
    new Request(`${BASE}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': type }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    }),
  );
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${path} answered ${response.status}: ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : undefined;
}

// The receiver: when each change's notification arrived, by the note that change wrote.
const arrivals = new Map<string, number>();
let received = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = performance.now();
    received++;
    const task = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { note?: { text?: string }[] };
    const note = task.note?.at(-1)?.text;
    if (note && !arrivals.has(note)) arrivals.set(note, at);
    res.end();
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
const subscribe = (criteria: string) =>
  send(gp, 'POST', '/fhir/Subscription', {
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'bench',
    criteria,
    channel: { type: 'rest-hook', endpoint: hook, payload: 'application/fhir+json' },
    extension: [
      { url: 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret', valueString: SECRET },
    ],
  }) as Promise<{ id: string }>;

const quantiles = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { p50: at(0.5), p99: at(0.99) };
};
const settle = async () => {
  while ((outbox?.stats().pending ?? 0) > 0) await new Promise((r) => setTimeout(r, 5));
};

let n = 0;
async function intakes(count: number): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await send(gp, 'POST', '/fhir', uniqueReferral(n++, 'notify'), 'application/fhir+json');
    samples.push(performance.now() - t0);
  }
  await settle();
  return quantiles(samples);
}

// 1. Intake with none, then with 100 subscriptions.
await intakes(20);
const none = await intakes(INTAKES);
const created: string[] = [];
for (let i = 0; i < SUBSCRIPTIONS - 1; i++) {
  created.push(
    (await subscribe(`Task?focus=ServiceRequest/00000000-0000-4000-8000-${String(i).padStart(12, '0')}`)).id,
  );
}
created.push((await subscribe('Task?status=requested')).id);
const before = received;
const hundred = await intakes(INTAKES);
console.log(
  `notifications: intake p50 ${none.p50.toFixed(1)} ms (p99 ${none.p99.toFixed(1)}) with no subscriptions, p50 ${hundred.p50.toFixed(1)} ms (p99 ${hundred.p99.toFixed(1)}) with ${SUBSCRIPTIONS} (${received - before} notifications sent meanwhile), ${INTAKES} referrals each`,
);
for (const id of created) await send(gp, 'DELETE', `/fhir/Subscription/${id}`);

// 2. 100 referrals, each with a subscription on its Task, and CHANGES changes among them.
const referrals: string[] = [];
for (let i = 0; i < SUBSCRIPTIONS; i++) {
  const answer = (await send(
    gp,
    'POST',
    '/fhir',
    uniqueReferral(n++, 'notify'),
    'application/fhir+json',
  )) as {
    entry: { response: { location: string } }[];
  };
  const srId = answer.entry
    .map((e) => e.response.location)
    .find((l) => l.startsWith('ServiceRequest/'))
    ?.split('/')[1] as string;
  referrals.push(srId);
  await send(sp, 'POST', `/referrals/${srId}/$accept`, {});
  await subscribe(`Task?focus=ServiceRequest/${srId}`);
}
await settle();
const answered = new Map<string, number>();
const started = performance.now();
for (let i = 0; i < CHANGES; i++) {
  const note = `change ${i}`;
  await send(sp, 'POST', `/referrals/${referrals[i % referrals.length]}/$progress`, { note });
  answered.set(note, performance.now());
}
await settle();
const until = performance.now() + 10_000;
while (arrivals.size < answered.size + 0 && performance.now() < until)
  await new Promise((r) => setTimeout(r, 5));
const latencies = [...answered].flatMap(([note, at]) => {
  const arrived = arrivals.get(note);
  return arrived === undefined ? [] : [arrived - at];
});
const latency = quantiles(latencies);
console.log(
  `notifications: change to receiver p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms; ${latencies.length} of ${CHANGES} changes notified, with ${SUBSCRIPTIONS} subscriptions, in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
await outbox.stop();
server.close();
