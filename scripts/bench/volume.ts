/**
 * Part of `npm run bench`: referral intake as the store grows. Posts BENCH_VOLUME referrals
 * (default 10,000), one at a time, through the facade (in process, every middleware and use case)
 * into the embedded store on a data directory, as `npm start` runs it, and reports the latency per
 * referral at 100, 1,000 and 10,000 stored (p50 and p99 over the 100 referrals ending there).
 * Then does the same on Medplum's plain MemoryRepository for as long as the first run took, and
 * reports the sizes it reached. Finally reopens the data directory and times the restart.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FhirRepository } from '@medplum/fhir-router';
import { MemoryRepository } from '@medplum/fhir-router';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { createJsonLogger } from '../../src/logger.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { EmbeddedRepository } from '../../src/medplum/embedded/repository.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import { uniqueReferral } from './referrals.ts';

const TOTAL = Number(process.env.BENCH_VOLUME ?? 10_000);
const WINDOW = 100;
const MARKS = [100, 1_000, 10_000, 100_000].filter((m) => m <= TOTAL);

interface Run {
  label: string;
  latencies: number[];
  seconds: number;
  errors: number;
}

async function ingest(
  label: string,
  repo: FhirRepository,
  budgetSeconds = Number.POSITIVE_INFINITY,
): Promise<Run> {
  const { store } = createEmbeddedStore({ timeoutMs: 60_000, repo });
  await seedEmbeddedStore(store);
  const app = createApp({
    config: parseConfig({ LOG_LEVEL: 'silent' }),
    store,
    clock: () => new Date(),
    newId: () => crypto.randomUUID(),
    logger: createJsonLogger('silent'),
  });
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + budgetSeconds * 1000;
  for (let n = 0; n < TOTAL && performance.now() < deadline; n++) {
    const body = uniqueReferral(n, label);
    const t0 = performance.now();
    const response = await app.fetch(
      new Request('http://bench.local/fhir', {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body,
      }),
    );
    await response.arrayBuffer();
    latencies.push(performance.now() - t0);
    if (response.status !== 200) {
      errors++;
      if (errors >= 10)
        throw new Error(`${label}: ${errors} referrals refused (last: HTTP ${response.status})`);
    }
  }
  return { label, latencies, seconds: (performance.now() - started) / 1000, errors };
}

function windowAt(latencies: number[], stored: number): { p50: number; p99: number } {
  const window = latencies.slice(stored - WINDOW, stored).sort((a, b) => a - b);
  const at = (q: number) => window[Math.min(window.length - 1, Math.floor(q * window.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

function report(run: Run): void {
  const reached = run.latencies.length;
  const marks = MARKS.filter((m) => m <= reached);
  if (!marks.includes(reached) && reached >= WINDOW) marks.push(reached);
  console.log(
    `  ${run.label}: ${reached} referrals in ${run.seconds.toFixed(1)} s (${(reached / run.seconds).toFixed(0)}/s), ${run.errors} errors`,
  );
  for (const mark of marks) {
    const { p50, p99 } = windowAt(run.latencies, mark);
    console.log(
      `    at ${String(mark).padStart(6)} stored: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`,
    );
  }
}

indexDefinitions();
console.log(`referral intake as the store grows (sequential, in process, ${TOTAL} referrals):`);

const dir = mkdtempSync(join(tmpdir(), 'sp-bench-'));
try {
  const onDisk = EmbeddedRepository.open({ dir });
  const indexed = await ingest('embedded store on disk', onDisk);
  onDisk.close();
  report(indexed);
  const first = windowAt(indexed.latencies, Math.min(100, indexed.latencies.length));
  const last = windowAt(indexed.latencies, indexed.latencies.length);
  console.log(
    `    p50 at ${indexed.latencies.length} stored / p50 at 100 stored: ${(last.p50 / first.p50).toFixed(2)}x`,
  );
  console.log(
    `    data directory: ${(statSync(join(dir, 'store.sqlite')).size / 1024 / 1024).toFixed(0)} MiB`,
  );

  const t0 = performance.now();
  const reopened = EmbeddedRepository.open({ dir });
  const openMs = performance.now() - t0;
  const t1 = performance.now();
  const { store } = createEmbeddedStore({ timeoutMs: 60_000, repo: reopened });
  await store.search('Patient', { identifier: 'https://fhir.nhs.uk/Id/nhs-number|9990000018' });
  const firstSearchMs = performance.now() - t1;
  reopened.close();
  console.log(
    `    restart: open and load ${openMs.toFixed(0)} ms, first identifier search (builds its index) ${firstSearchMs.toFixed(0)} ms`,
  );

  const plain = await ingest("Medplum's MemoryRepository", new MemoryRepository(), indexed.seconds);
  report(plain);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
