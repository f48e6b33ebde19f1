/**
 * `npm run bench`: the figures the issues set targets for, measured on this machine.
 *   1. start-up: importing and indexing the slim definitions
 *   2. checking a whole referral Bundle (base R4 + referral rules), median per Bundle
 *   3. referral intake over HTTP on loopback, through the facade and straight to the embedded
 *      Medplum (the same transaction Bundles), at a fixed concurrency and stated store size
 *   4. the summary operation's response time
 *   5. the Worker bundle's size
 * Not part of `npm test`; nothing here is a pass/fail timing test.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { serve } from '@hono/node-server';
import type { Bundle } from '@medplum/fhirtypes';
import { fmt, runLoad } from './load.ts';

const STORE_SIZE = Number(process.env.BENCH_STORE_SIZE ?? 200);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 100);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 60);

// 1. start-up
let t0 = performance.now();
const { indexDefinitions } = await import('../../src/fhir/definitions.ts');
const importMs = performance.now() - t0;
t0 = performance.now();
indexDefinitions();
const indexMs = performance.now() - t0;
t0 = performance.now();
const { checkAgainstProfile, indexProfiles } = await import('../../src/fhir/profiles.ts');
const profilesImportMs = performance.now() - t0;
t0 = performance.now();
indexProfiles();
const profilesMs = performance.now() - t0;
console.log(
  `start-up: import slim definitions ${importMs.toFixed(1)} ms, index ${indexMs.toFixed(1)} ms; import profiles ${profilesImportMs.toFixed(1)} ms, index all 8 ${profilesMs.toFixed(1)} ms (each is otherwise indexed on first use); indexing in all ${(indexMs + profilesMs).toFixed(1)} ms`,
);

// 2. checking a referral Bundle
const { readReferralBundle } = await import('../../src/referrals/referral-bundle.ts');
const { checkReferralRules } = await import('../../src/referrals/rules.ts');
const example = JSON.parse(
  readFileSync(
    new URL('../../examples/referrals/01-gp-transaction-bundle.200.request.json', import.meta.url),
    'utf8',
  ),
).body as Bundle;
const samples: number[] = [];
const now = new Date();
for (let i = 0; i < 2000; i++) {
  const s = performance.now();
  const read = readReferralBundle(example);
  if (read.referral) checkReferralRules(read.referral, now);
  samples.push(performance.now() - s);
}
samples.sort((a, b) => a - b);
console.log(
  `check a ${example.entry?.length}-entry referral Bundle (base R4, profiles, bindings, rules): median ${(samples[1000] ?? 0).toFixed(3)} ms, p99 ${(samples[1980] ?? 0).toFixed(3)} ms`,
);

// Validating a whole referral against the profiles: Patient, Practitioner, Organization,
// ServiceRequest, Task and Consent, each against its profile (or base R4).
const { toReferralTask } = await import('../../src/mapping/to-task.ts');
const whole = [
  ...(example.entry ?? []).map((e) => e.resource as import('@medplum/fhirtypes').Resource),
  toReferralTask({
    serviceRequest: { reference: 'ServiceRequest/1' },
    patient: { reference: 'Patient/1' },
    requester: { reference: 'PractitionerRole/1' },
    owner: { reference: 'Organization/2' },
    authoredOn: now.toISOString(),
  }),
].filter((r) =>
  ['Patient', 'Practitioner', 'Organization', 'ServiceRequest', 'Task', 'Consent'].includes(r.resourceType),
);
const profileSamples: number[] = [];
let profileErrors = 0;
for (let i = 0; i < 2000; i++) {
  const s0 = performance.now();
  for (const resource of whole) {
    profileErrors += checkAgainstProfile(resource).filter((x) => x.severity === 'error').length;
  }
  profileSamples.push(performance.now() - s0);
}
profileSamples.sort((a, b) => a - b);
console.log(
  `validate a whole referral against the profiles (${whole.map((r) => r.resourceType).join(', ')}): median ${(profileSamples[1000] ?? 0).toFixed(3)} ms, p99 ${(profileSamples[1980] ?? 0).toFixed(3)} ms (${profileErrors / 2000} errors per run)`,
);

// 3. intake over HTTP
const { createApp } = await import('../../src/app.ts');
const { parseConfig } = await import('../../src/config.ts');
const { createJsonLogger } = await import('../../src/logger.ts');
const { createEmbeddedMedplum } = await import('../../src/medplum/embedded/server.ts');
const { createMedplumClient, createMedplumStore } = await import('../../src/medplum/store.ts');
const { seedEmbeddedStore } = await import('../../src/medplum/embedded/seed.ts');

const medplum = createEmbeddedMedplum();
const medplumServer = serve({ fetch: medplum.fetch, port: 0, hostname: '127.0.0.1' });
await new Promise((resolve) => medplumServer.once('listening', resolve));
const medplumUrl = `http://127.0.0.1:${(medplumServer.address() as { port: number }).port}/`;
const store = createMedplumStore(
  createMedplumClient({ baseUrl: medplumUrl, clientId: 'bench', clientSecret: 'bench', timeoutMs: 30_000 }),
);
await seedEmbeddedStore(store);
const transactions: Bundle[] = [];
const recording = {
  ...store,
  bundle: (b: Bundle) => {
    transactions.push(b);
    return store.bundle(b);
  },
};
const app = createApp({
  config: parseConfig({ LOG_LEVEL: 'silent' }),
  store: recording,
  clock: () => new Date(),
  newId: () => crypto.randomUUID(),
  logger: createJsonLogger('silent'),
});
const facadeServer = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
await new Promise((resolve) => facadeServer.once('listening', resolve));
const facadeUrl = `http://127.0.0.1:${(facadeServer.address() as { port: number }).port}`;

let counter = 0;
/** A distinct referral: its own referral identifier and NHS number (valid check digit). */
function uniqueReferral(): string {
  const n = counter++;
  const nhs = nhsNumber(n);
  const text = JSON.stringify(example)
    .replaceAll('9990000018', nhs)
    .replaceAll('RMP-2026-000101', `BENCH-${process.pid}-${n}`);
  return text;
}
function nhsNumber(n: number): string {
  for (let k = n * 2; ; k++) {
    const base = `8${String(k).padStart(8, '0')}`;
    const sum = [...base].reduce((acc, d, i) => acc + Number(d) * (10 - i), 0);
    const check = (11 - (sum % 11)) % 11;
    if (check !== 10) return base + String(check);
  }
}
const postReferral = () =>
  fetch(`${facadeUrl}/fhir`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    body: uniqueReferral(),
  });

const preload = await runLoad({ total: STORE_SIZE, concurrency: CONCURRENCY, maxSeconds: 600 }, postReferral);
console.log(`preload: ${preload.requests} referrals stored through the facade (${preload.errors} errors)`);
transactions.length = 0;
const facade = await runLoad(
  { total: REQUESTS, concurrency: CONCURRENCY, maxSeconds: MAX_SECONDS },
  postReferral,
);
const token = (await (
  await fetch(`${medplumUrl}oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&client_id=bench&client_secret=bench',
  })
).json()) as { access_token: string };
const direct = await runLoad(
  { total: transactions.length, concurrency: CONCURRENCY, maxSeconds: MAX_SECONDS },
  (i) =>
    fetch(`${medplumUrl}fhir/R4`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${token.access_token}` },
      body: JSON.stringify(transactions[i]),
    }),
);
console.log(
  `intake at store size ${STORE_SIZE}→${STORE_SIZE + facade.requests + direct.requests} referrals, concurrency ${CONCURRENCY}:`,
);
console.log(`  facade POST /fhir:            ${fmt(facade)}`);
console.log(`  direct to embedded Medplum:   ${fmt(direct)}`);
console.log(
  `  ratio facade/direct: p50 ${(facade.p50 / direct.p50).toFixed(2)}x, throughput ${(direct.throughput / facade.throughput).toFixed(2)}x`,
);

// The summary operation, over the same loopback HTTP, for stored people (each has a referral
// and its Task; the store holds every referral posted above).
const patients = ((await store.search('Patient', { _count: '100' })).entry ?? []).map((e) => e.resource?.id);
const summaryTimes: number[] = [];
for (let i = 0; i < 300; i++) {
  const t0 = performance.now();
  const response = await fetch(
    `${facadeUrl}/fhir/Patient/${patients[i % patients.length]}/$social-prescribing-summary`,
  );
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`summary answered ${response.status}`);
  summaryTimes.push(performance.now() - t0);
}
summaryTimes.sort((a, b) => a - b);
console.log(
  `$social-prescribing-summary (sequential, ${patients.length} people, store of ${STORE_SIZE + facade.requests + direct.requests} referrals): median ${(summaryTimes[150] as number).toFixed(2)} ms, p99 ${(summaryTimes[297] as number).toFixed(2)} ms`,
);
facadeServer.close();
medplumServer.close();

// 4. Worker size
execFileSync('wrangler', ['deploy', '--dry-run', '--outdir', 'dist/worker'], { stdio: 'ignore' });
const worker = readFileSync('dist/worker/worker.js');
console.log(
  `worker bundle: ${(worker.length / 1024).toFixed(0)} KiB, ${(gzipSync(worker, { level: 9 }).length / 1024).toFixed(0)} KiB gzipped`,
);
process.exit(0);
