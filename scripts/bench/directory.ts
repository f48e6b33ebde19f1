/**
 * Part of `npm run bench`: the directory of community services at the size of a region.
 *   1. imports BENCH_DIRECTORY_SERVICES generated Open Referral UK services (default 10,000)
 *      through `$import-open-referral`, in batches as `npm run import:open-referral` sends them
 *      (200 services, under MAX_BODY_BYTES), through the facade in process into the embedded store
 *      on a data directory, as `npm start` runs it: total time, services per second, peak RSS and
 *      heap used after
 *   2. BENCH_NEAR_RUNS `Location?near=` searches (default 500) at random points in the area the
 *      generator spreads places over (England's latitude and longitude), 5 km around each, with
 *      the services at each place (`_revinclude=HealthcareService:location`); and a fifth as many
 *      25 km around: p50 and p99 latency, and how many places each found
 *   3. the same services imported again: everything unchanged
 * Not part of `npm test`; nothing here is a pass/fail timing test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { createJsonLogger } from '../../src/logger.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { EmbeddedRepository } from '../../src/medplum/embedded/repository.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import { DEFAULT_BATCH, type ImportReport, importFeeds } from '../import-open-referral.ts';
import { generateOpenReferralServices } from './open-referral-feed.ts';

const SERVICES = Number(process.env.BENCH_DIRECTORY_SERVICES ?? 10_000);
const NEAR_RUNS = Number(process.env.BENCH_NEAR_RUNS ?? 500);
const WIDE_RUNS = Math.max(1, Math.round(NEAR_RUNS / 5));
const BASE = 'http://bench.local';

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
const at = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

indexDefinitions();
const dir = mkdtempSync(join(tmpdir(), 'sp-bench-directory-'));
const repo = EmbeddedRepository.open({ dir });
try {
  const { store } = createEmbeddedStore({ timeoutMs: 60_000, repo });
  await seedEmbeddedStore(store);
  const app = createApp({
    config: parseConfig({ LOG_LEVEL: 'silent' }),
    store,
    clock: () => new Date(),
    newId: () => crypto.randomUUID(),
    logger: createJsonLogger('silent'),
  });
  const fetch = (request: Request) => app.fetch(request);
  const feed = generateOpenReferralServices(SERVICES, 2026);
  console.log(
    `directory: ${SERVICES} generated Open Referral UK services imported in batches of ${DEFAULT_BATCH}, in process, embedded store on disk:`,
  );

  const describeImport = (label: string, report: ImportReport) => {
    const { total, byKind } = report;
    console.log(
      `  ${label}: ${report.sent} services in ${report.batches} batches, ${report.seconds.toFixed(1)} s (${(report.sent / report.seconds).toFixed(0)} services/s); created ${total.created}, updated ${total.updated}, unchanged ${total.unchanged}, refused ${total.refused} (organisations ${byKind.organization.created + byKind.organization.updated} written, locations ${byKind.location.created + byKind.location.updated}, services ${byKind.service.created + byKind.service.updated}); ${report.failures.length} batches refused`,
    );
    if (report.failures.length) throw new Error(`${label}: ${JSON.stringify(report.failures[0])}`);
  };
  const first = await importFeeds([{ name: 'generated', feed }], { baseUrl: BASE, fetch });
  describeImport('import', first);
  const heapAfter = process.memoryUsage().heapUsed;
  console.log(
    `    memory: peak RSS ${mib(process.resourceUsage().maxRSS * 1024)} MiB, heap used after ${mib(heapAfter)} MiB`,
  );

  // Random points over the generator's area, the same each run.
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const nearSearches = async (radiusKm: number, runs: number) => {
    const latencies: number[] = [];
    let found = 0;
    for (let i = 0; i < runs; i++) {
      const lat = (50 + random() * 5.5).toFixed(4);
      const lng = (-5.5 + random() * 7.2).toFixed(4);
      const t0 = performance.now();
      const response = await app.fetch(
        new Request(
          `${BASE}/fhir/Location?near=${lat}|${lng}|${radiusKm}|km&_revinclude=HealthcareService:location`,
        ),
      );
      const body = (await response.json()) as { total?: number };
      latencies.push(performance.now() - t0);
      if (response.status !== 200) throw new Error(`near search: HTTP ${response.status}`);
      found += body.total ?? 0;
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `  Location?near= ${radiusKm} km with _revinclude (${runs} searches at random points): p50 ${at(latencies, 0.5).toFixed(2)} ms, p99 ${at(latencies, 0.99).toFixed(2)} ms; ${(found / runs).toFixed(1)} places found on average`,
    );
  };
  await nearSearches(5, NEAR_RUNS);
  await nearSearches(25, WIDE_RUNS);

  const again = await importFeeds([{ name: 'generated', feed }], { baseUrl: BASE, fetch });
  describeImport('import again', again);
  if (again.total.created || again.total.updated)
    console.log('    (expected everything unchanged on the second import)');
  console.log(
    `  memory at the end: peak RSS ${mib(process.resourceUsage().maxRSS * 1024)} MiB, heap used ${mib(process.memoryUsage().heapUsed)} MiB`,
  );
} finally {
  repo.close();
  rmSync(dir, { recursive: true, force: true });
}
