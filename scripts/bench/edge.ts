/**
 * `npm run bench` (part): what a remote Medplum's latency and the Worker's start-up cost.
 *   1. referral intake with the store given a fixed delay per Medplum call (BENCH_DELAY_MS, 10):
 *      p50 through the facade, p50 of the transactions the facade writes sent straight to the
 *      same delayed store, and their ratio
 *   2. the Worker's cold start in workerd (wrangler's local runner): ready (bundling and module
 *      evaluation included), then the first request and the next
 */
import type { Bundle } from '@medplum/fhirtypes';
import { unstable_dev } from 'wrangler';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { createJsonLogger } from '../../src/logger.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { uniqueReferral } from './referrals.ts';

const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 10);
const RUNS = Number(process.env.BENCH_EDGE_RUNS ?? 60);
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** The store, each call delayed as a round trip to a remote Medplum would be. */
function delayed(store: FhirStore, onTransaction?: (bundle: Bundle) => void): FhirStore {
  const wait = () => new Promise((resolve) => setTimeout(resolve, DELAY_MS));
  return Object.fromEntries(
    Object.entries(store).map(([name, fn]) => [
      name,
      async (...args: unknown[]) => {
        if (name === 'bundle' && (args[0] as Bundle).type === 'transaction')
          onTransaction?.(args[0] as Bundle);
        await wait();
        return (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    ]),
  ) as unknown as FhirStore;
}

// 1. Intake against a delayed store, and the same transactions sent straight to one.
indexDefinitions();
const written: Bundle[][] = [];
let current: Bundle[] = [];
const facadeStore = createEmbeddedStore({ timeoutMs: 30_000 }).store;
await seedEmbeddedStore(facadeStore);
const app = createApp({
  config: parseConfig({ LOG_LEVEL: 'silent' }),
  store: delayed(facadeStore, (bundle) => current.push(structuredClone(bundle))),
  clock: () => new Date(),
  newId: () => crypto.randomUUID(),
  logger: createJsonLogger('silent'),
  audit: { record: () => {}, flush: async () => {}, stats: () => ({ written: 0, pending: 0 }) },
});
const post = (n: number) =>
  app.request('http://facade.test/fhir', {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    body: uniqueReferral(n, 'edge'),
  });
await post(0);
const facade: number[] = [];
for (let n = 1; n <= RUNS; n++) {
  current = [];
  const started = performance.now();
  const response = await post(n);
  facade.push(performance.now() - started);
  if (response.status !== 200) throw new Error(`intake answered ${response.status}`);
  written.push(current);
}
const directStore = createEmbeddedStore({ timeoutMs: 30_000 }).store;
await seedEmbeddedStore(directStore);
const direct = delayed(directStore);
const straight: number[] = [];
for (const transactions of written) {
  const started = performance.now();
  for (const bundle of transactions) await direct.bundle(bundle);
  straight.push(performance.now() - started);
}
console.log(
  `intake with ${DELAY_MS} ms per Medplum call (${RUNS} referrals, sequential): facade p50 ${p50(facade).toFixed(1)} ms, ` +
    `its transactions sent straight p50 ${p50(straight).toFixed(1)} ms, ratio ${(p50(facade) / p50(straight)).toFixed(2)}x`,
);

// 2. Cold start in workerd: wrangler's own local runner, over the same bundle `npm run build:worker` makes.
const starts: number[] = [];
const firsts: number[] = [];
const seconds: number[] = [];
for (let i = 0; i < 3; i++) {
  const started = performance.now();
  const worker = await unstable_dev('src/worker.ts', {
    config: 'wrangler.toml',
    vars: {
      MEDPLUM_BASE_URL: 'https://medplum.invalid/',
      MEDPLUM_CLIENT_ID: 'x',
      MEDPLUM_CLIENT_SECRET: 'x',
      LOG_LEVEL: 'silent',
    },
    experimental: { disableExperimentalWarning: true },
    logLevel: 'none',
  });
  starts.push(performance.now() - started);
  let t = performance.now();
  await (await worker.fetch('/metadata')).text();
  firsts.push(performance.now() - t);
  t = performance.now();
  await (await worker.fetch('/metadata')).text();
  seconds.push(performance.now() - t);
  await worker.stop();
}
console.log(
  `worker cold start in workerd (wrangler's local runner, 3 runs): ready, bundling and module evaluation included, p50 ${p50(starts).toFixed(0)} ms; ` +
    `first request (/metadata) p50 ${p50(firsts).toFixed(0)} ms; the next p50 ${p50(seconds).toFixed(0)} ms`,
);
