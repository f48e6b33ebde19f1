/**
 * `npm run bench` (part): whether costly bodies hold up other callers. The service runs as
 * `npm start -- --memory` does, in a process of its own; from this one, 4 senders post referral
 * Bundles built to cost the most the body limits allow (a new person each time, so each is
 * checked whole and stored), back to back, while one caller reads a resource by id, one read
 * after another. Prints the reads' latency with and without the costly bodies in flight.
 *   BENCH_FAIRNESS_SECONDS  how long each phase runs (default 10)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { exampleReferral, nhsNumber } from './referrals.ts';

const SECONDS = Number(process.env.BENCH_FAIRNESS_SECONDS ?? 10);
const SENDERS = 4;

const port = await (async () => {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  return port;
})();
const base = `http://127.0.0.1:${port}`;
const child: ChildProcess = spawn(
  process.execPath,
  [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), 'src/node.ts', '--memory'],
  {
    cwd: new URL('../../', import.meta.url),
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let output = '';
child.stdout?.on('data', (chunk) => {
  output += chunk;
});
while (!output.includes('listening on')) {
  if (child.exitCode !== null) throw new Error(`the service did not start:\n${output}`);
  await new Promise((r) => setTimeout(r, 25));
}

const extension = (depth: number): unknown =>
  depth === 0
    ? { url: 'https://example.org/e', valueString: 'x' }
    : { url: 'https://example.org/e', extension: [extension(depth - 1)] };

/** The Patient changes that cost the most within the limits (src/fhir/shape.ts). */
const costly: ((patient: Record<string, unknown>) => void)[] = [
  (p) => {
    p.name = Array.from({ length: 900 }, () => ({ family: 'x', given: ['a', 'b'] }));
  },
  (p) => {
    p.telecom = Array.from({ length: 990 }, () => ({ system: 'phone', value: '1', use: 'home' }));
  },
  (p) => {
    p.extension = Array.from({ length: 25 }, () => extension(7));
  },
  (p) => {
    p.name = Array.from({ length: 4 }, () => ({ given: Array(990).fill('a') }));
  },
];

let sent = 0;
function costlyReferral(): string {
  const n = ++sent;
  const bundle = structuredClone(exampleReferral);
  const patient = bundle.entry?.find((e) => e.resource?.resourceType === 'Patient')
    ?.resource as unknown as Record<string, unknown>;
  costly[n % costly.length]?.(patient);
  return JSON.stringify(bundle)
    .replaceAll('9990000018', nhsNumber(100_000 + n))
    .replaceAll('RMP-2026-000101', `COSTLY-${process.pid}-${n}`);
}

const reads = await fetch(`${base}/fhir/Organization?_count=1`);
const organization = ((await reads.json()) as { entry?: { resource: { id: string } }[] }).entry?.[0]?.resource
  .id;
if (!organization) throw new Error('the seeded directory holds no Organization');

const summary = (label: string, times: number[]): string => {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return `${label}: ${sorted.length} reads, p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms`;
};

async function readLoop(until: number): Promise<number[]> {
  const times: number[] = [];
  while (performance.now() < until) {
    const started = performance.now();
    const response = await fetch(`${base}/fhir/Organization/${organization}`);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`a read answered ${response.status}`);
    times.push(performance.now() - started);
  }
  return times;
}

// Warm-up, then reads alone.
await readLoop(performance.now() + 1000);
const quiet = await readLoop(performance.now() + SECONDS * 1000);

// Reads beside the costly bodies.
const statuses = new Map<number, number>();
const costlyTimes: number[] = [];
const until = performance.now() + SECONDS * 1000;
const sender = async () => {
  while (performance.now() < until) {
    const body = costlyReferral();
    const started = performance.now();
    const response = await fetch(`${base}/fhir`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body,
    });
    await response.arrayBuffer();
    costlyTimes.push(performance.now() - started);
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  }
};
const [busy] = await Promise.all([readLoop(until), ...Array.from({ length: SENDERS }, sender)]);

console.log(summary('a read by id, nothing else in flight', quiet));
console.log(summary(`a read by id beside ${SENDERS} senders of costly referrals`, busy ?? []));
costlyTimes.sort((a, b) => a - b);
console.log(
  `the costly referrals: ${costlyTimes.length} sent (${[...statuses].map(([s, n]) => `${n}×${s}`).join(', ')}), p50 ${costlyTimes[Math.floor(costlyTimes.length / 2)]?.toFixed(0)} ms`,
);
child.kill('SIGTERM');
await once(child, 'exit');
