import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HealthcareService } from '@medplum/fhirtypes';
import { afterAll, describe, expect, it } from 'vitest';
import { generateOpenReferralServices } from '../../scripts/bench/open-referral-feed.ts';
import {
  batchesOf,
  type ImportOptions,
  importOpenReferral,
  itemsOf,
  type Progress,
  summaryLines,
  unitsOf,
} from '../../scripts/import-open-referral.ts';
import { createTestApp } from '../support/app.ts';
import { all, counts } from '../support/referrals.ts';
import { directoryApp } from './support.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oruk-import-'));
  dirs.push(dir);
  return dir;
}

/** An ORUK organisation with its services (the services without an organisation of their own). */
function organisationWithServices(count: number) {
  const services = generateOpenReferralServices(count, 99).map((s) => {
    const { organization: _o, organization_id: _id, ...rest } = s;
    return rest;
  });
  return {
    id: 'org-with-services-1',
    name: 'Kingsmead Community Trust (example)',
    description: 'Runs groups across Kingsmead.',
    url: 'https://kingsmead-community-trust.example.org',
    services,
  };
}

describe('batching a feed for the request body limit', () => {
  it('finds the records of every shape of feed', () => {
    const [a, b] = generateOpenReferralServices(2, 3);
    expect(itemsOf([a, b]).map((i) => i.path)).toEqual(['[0]', '[1]']);
    expect(itemsOf({ contents: [a], total_items: 1 }).map((i) => i.path)).toEqual(['contents[0]']);
    expect(itemsOf({ content: [a, b], totalElements: 2 }).map((i) => i.path)).toEqual([
      'content[0]',
      'content[1]',
    ]);
    expect(itemsOf(a).map((i) => i.path)).toEqual(['$']);
    const org = organisationWithServices(3);
    expect(unitsOf(org, { batchSize: 200, maxBytes: 1_048_576 }).units).toMatchObject([
      { path: '$', records: 3 },
    ]);
  });

  it('never makes a body over the limit; splits an organisation only when it does not fit', () => {
    const feed = generateOpenReferralServices(300, 4);
    const limits = { batchSize: 50, maxBytes: 40_000 };
    const batches = batchesOf(unitsOf(feed, limits).units, limits);
    for (const batch of batches) {
      expect(batch.bytes).toBeLessThanOrEqual(limits.maxBytes);
      expect(batch.records).toBeLessThanOrEqual(limits.batchSize);
      expect(JSON.parse(batch.body)).toHaveLength(batch.units.length);
    }
    expect(batches.reduce((n, b) => n + b.records, 0)).toBe(300);
    // Size, not count, decides here: 300 services at 50 a batch would be 6.
    expect(batches.length).toBeGreaterThan(6);
    // The services naming one organisation go in one batch (the feed names each in five).
    const batchOf = new Map<string, Set<number>>();
    batches.forEach((batch, i) => {
      for (const service of JSON.parse(batch.body) as { organization: { id: string } }[]) {
        const seen = batchOf.get(service.organization.id) ?? new Set();
        batchOf.set(service.organization.id, seen.add(i));
      }
    });
    expect(batchOf.size).toBe(60);
    expect([...batchOf.values()].every((seen) => seen.size === 1)).toBe(true);

    const org = organisationWithServices(25);
    const split = unitsOf(org, { batchSize: 10, maxBytes: 1_048_576 });
    expect(split.units.map((u) => [u.records, u.servicesFrom])).toEqual([
      [10, 0],
      [10, 10],
      [5, 20],
    ]);
    for (const unit of split.units)
      expect(JSON.parse(unit.text)).toMatchObject({ id: 'org-with-services-1' });

    // One record that cannot go even alone is refused here, never sent.
    const huge = { ...feed[0], id: 'huge-1', description: 'x'.repeat(5_000) };
    const small = unitsOf([feed[1], huge], { batchSize: 10, maxBytes: 4_000 });
    expect(small.units).toHaveLength(1);
    expect(small.tooLarge).toEqual([
      expect.objectContaining({ kind: 'service', id: 'huge-1', index: '[1]' }),
    ]);
  });
});

describe('npm run import:open-referral, through the app in process', () => {
  it('imports a directory of feeds in batches, skipping other files; a second run creates nothing', async () => {
    const d = await directoryApp();
    const dir = tempDir();
    writeFileSync(join(dir, 'a-services.json'), JSON.stringify(generateOpenReferralServices(500, 21)));
    writeFileSync(join(dir, 'b-organisation.json'), JSON.stringify(organisationWithServices(25)));
    writeFileSync(join(dir, 'c-notes.csv'), 'id,name\n1,Walking group\n');

    const bodies: number[] = [];
    const progress: Progress[] = [];
    const notes: string[] = [];
    const options: ImportOptions = {
      baseUrl: 'http://facade.test',
      fetch: async (request) => {
        bodies.push((await request.clone().arrayBuffer()).byteLength);
        return d.app.request(request);
      },
      token: async () => d.admin,
      batchSize: 100,
      maxBytes: 150_000,
      onProgress: (p) => progress.push(p),
      log: (message) => notes.push(message),
    };
    const before = await counts(d.store);
    const first = await importOpenReferral(dir, options);
    expect(first.failures).toEqual([]);
    expect(first.skipped).toEqual([join(dir, 'c-notes.csv')]);
    expect(notes).toEqual([expect.stringContaining('c-notes.csv')]);
    expect(first.records).toBe(525);
    expect(first.sent).toBe(525);
    expect(first.byKind.service).toEqual({ created: 525, updated: 0, unchanged: 0, refused: 0 });
    expect(first.total.refused).toBe(0);
    expect(first.refusals).toEqual([]);
    for (const bytes of bodies) expect(bytes).toBeLessThanOrEqual(150_000);
    // 100 services would be over 150 kB: the size limit makes the batches, and one more for the organisation.
    expect(first.batches).toBe(bodies.length);
    expect(first.batches).toBeGreaterThanOrEqual(6);
    expect(progress.at(-1)).toMatchObject({ file: join(dir, 'b-organisation.json'), sent: 25, records: 25 });
    const stored = await counts(d.store);
    expect((stored.HealthcareService ?? 0) - (before.HealthcareService ?? 0)).toBe(525);
    expect((stored.Organization ?? 0) - (before.Organization ?? 0)).toBe(first.byKind.organization.created);

    const again = await importOpenReferral(dir, options);
    expect(again.failures).toEqual([]);
    expect(again.total).toMatchObject({ created: 0, updated: 0, refused: 0 });
    expect(again.total.unchanged).toBe(first.total.created + first.total.updated + first.total.unchanged);
    expect(await counts(d.store)).toEqual(stored);
    expect(summaryLines(again)[1]).toContain('created 0, updated 0');
  });

  it('reports refused records with where they are in the file, and a batch refused outright as a failure', async () => {
    const d = await directoryApp();
    const dir = tempDir();
    const [good] = generateOpenReferralServices(1, 5);
    const page = { content: [good, { id: 'no-name-1', name: ' ' }], totalElements: 2 };
    writeFileSync(join(dir, 'page.json'), JSON.stringify(page));
    writeFileSync(
      join(dir, 'not-a-feed.json'),
      JSON.stringify({ resourceType: 'Bundle', type: 'collection' }),
    );
    writeFileSync(join(dir, 'broken.json'), '{"content": [');
    const options: ImportOptions = {
      baseUrl: 'http://facade.test',
      fetch: (request) => d.app.request(request),
      token: async () => d.admin,
    };
    const report = await importOpenReferral(dir, options);
    expect(report.refusals).toEqual([
      {
        file: join(dir, 'page.json'),
        kind: 'service',
        id: 'no-name-1',
        index: 'content[1]',
        reason: 'no name',
      },
    ]);
    expect(report.byKind.service).toMatchObject({ created: 1, refused: 1 });
    expect(report.failures).toEqual([
      expect.objectContaining({ file: join(dir, 'broken.json'), batch: 0 }),
      expect.objectContaining({ file: join(dir, 'not-a-feed.json'), batch: 1, status: 422 }),
    ]);
    expect(report.stopped).toBe(false);

    // A client without directory scopes: refused outright, and the run stops there.
    const gp = await importOpenReferral(join(dir, 'page.json'), { ...options, token: async () => d.gp });
    expect(gp.failures).toEqual([expect.objectContaining({ status: 403 })]);
    expect(gp.stopped).toBe(true);
  });

  it('asks for a fresh token when one is refused, and sends none in the open local mode', async () => {
    const d = await directoryApp();
    const file = join(tempDir(), 'feed.json');
    writeFileSync(file, JSON.stringify(generateOpenReferralServices(3, 8)));
    const asked: boolean[] = [];
    const report = await importOpenReferral(file, {
      baseUrl: 'http://facade.test',
      fetch: (request) => d.app.request(request),
      token: async (fresh) => {
        asked.push(fresh);
        return fresh ? d.admin : 'expired';
      },
    });
    expect(asked).toEqual([false, true]);
    expect(report.byKind.service.created).toBe(3);

    const open = createTestApp();
    const openReport = await importOpenReferral(file, {
      baseUrl: 'http://facade.test',
      fetch: (request) => open.app.request(request),
    });
    expect(openReport.failures).toEqual([]);
    expect(openReport.byKind.service.created).toBe(3);
  });

  it('names the feed as the source of its ids when told to', async () => {
    const open = createTestApp();
    const file = join(tempDir(), 'feed.json');
    writeFileSync(file, JSON.stringify(generateOpenReferralServices(2, 5)));
    const options = { baseUrl: 'http://facade.test', fetch: (request: Request) => open.app.request(request) };
    const leeds = await importOpenReferral(file, {
      ...options,
      source: 'https://directory.leeds.example/api',
    });
    expect(leeds.byKind.service.created).toBe(2);
    // The same ids from another publisher are other services.
    expect((await importOpenReferral(file, options)).byKind.service.created).toBe(2);
    const systems = (await all<HealthcareService>(open.store, 'HealthcareService')).map(
      (service) => service.identifier?.[0]?.system,
    );
    expect(
      systems.filter((system) => system === 'https://directory.leeds.example/api/services'),
    ).toHaveLength(2);
    expect(systems).toHaveLength(4);
  });
});
