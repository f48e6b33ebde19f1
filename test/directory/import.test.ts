import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, HealthcareService, Location, Parameters } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { generateOpenReferralServices } from '../../scripts/bench/open-referral-feed.ts';
import { DIRECTORY_SYSTEM } from '../../src/fhir/systems.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { StoreError } from '../../src/medplum/errors.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { expectOutcome } from '../support/app.ts';
import { counts, THIRD_PARTY_ABSENT, THIRD_PARTY_DIR } from '../support/referrals.ts';
import { charity, createdId, type DirectoryApp, directoryApp, switchableStore } from './support.ts';

const DIR = join(THIRD_PARTY_DIR, 'open-referral');
const ABSENT = existsSync(DIR) ? undefined : (THIRD_PARTY_ABSENT ?? `skipped: ${DIR} is absent`);

const IMPORT = '/fhir/HealthcareService/$import-open-referral';

/** The answer's counts: totals, and per kind. */
function countsOf(answer: Parameters) {
  const value = (params: Parameters['parameter'], name: string) =>
    params?.find((p) => p.name === name)?.valueInteger;
  const four = (params: Parameters['parameter']) => ({
    created: value(params, 'created'),
    updated: value(params, 'updated'),
    unchanged: value(params, 'unchanged'),
    refused: value(params, 'refused'),
  });
  const kind = (name: string) => four(answer.parameter?.find((p) => p.name === name)?.part);
  return {
    total: four(answer.parameter),
    organization: kind('organization'),
    location: kind('location'),
    service: kind('service'),
    refusals: (answer.parameter ?? [])
      .filter((p) => p.name === 'refused-record')
      .map((p) => Object.fromEntries((p.part ?? []).map((q) => [q.name, q.valueString ?? q.valueCode]))),
  };
}

async function importAs(d: DirectoryApp, body: unknown, token = d.admin) {
  const response = await d.as(token, IMPORT, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  });
  expect(response.status).toBe(200);
  return countsOf((await response.json()) as Parameters);
}

describe.skipIf(ABSENT)(
  `importing the published Open Referral examples${ABSENT ? ` (${ABSENT})` : ''}`,
  () => {
    const files = ABSENT ? [] : readdirSync(DIR);

    it('finds the published feeds', () => {
      expect(files.filter((f) => f.endsWith('.json')).length).toBeGreaterThan(0);
    });

    it.each(files.filter((f) => f.endsWith('.json')))(
      '%s: stored once, the same again changes nothing',
      async (file) => {
        const d = await directoryApp();
        const feed = JSON.parse(readFileSync(join(DIR, file), 'utf8'));
        const first = await importAs(d, feed);
        expect(first.organization).toMatchObject({ created: 1, refused: 0 });
        expect(first.service).toMatchObject({ created: 1, refused: 0 });
        // The examples put their one location at latitude 100, longitude 101.
        for (const refusal of first.refusals)
          expect(refusal).toMatchObject({ kind: 'location', reason: 'coordinates out of range' });
        const stored = await counts(d.store);
        const again = await importAs(d, feed);
        expect(again.total).toMatchObject({ created: 0, updated: 0 });
        expect(again.total.unchanged).toBe((first.total.created ?? 0) + (first.total.updated ?? 0));
        expect(await counts(d.store)).toEqual(stored);
        const found = (await (
          await d.as(
            d.sp,
            `/fhir/HealthcareService?identifier=${DIRECTORY_SYSTEM.orukService}|ac148810-d857-441c-9679-408f346de14b&_include=HealthcareService:providedBy`,
          )
        ).json()) as Bundle;
        const service = found.entry?.find((e) => e.search?.mode === 'match')?.resource as HealthcareService;
        expect(service.name).toBeTruthy();
        expect(service.providedBy?.reference).toMatch(/^Organization\//);
        expect(found.entry?.some((e) => e.resource?.resourceType === 'Organization')).toBe(true);
      },
    );

    it.each(files.filter((f) => !f.endsWith('.json')))(
      '%s: not JSON, refused as such (415)',
      async (file) => {
        const d = await directoryApp();
        const response = await d.as(d.admin, IMPORT, {
          method: 'POST',
          body: readFileSync(join(DIR, file), 'utf8') as never,
          headers: { 'content-type': 'text/csv' },
        });
        await expectOutcome(response, 415);
      },
    );
  },
);

describe('importing an Open Referral feed', () => {
  it('maps a v1 page of services onto the directory, updates in place, and refuses bad records one by one', async () => {
    const d = await directoryApp();
    const services = generateOpenReferralServices(40, 7);
    const first = await importAs(d, services);
    expect(first.total.refused).toBe(0);
    expect(first.service.created).toBe(40);
    const stored = await counts(d.store);
    expect(stored.HealthcareService).toBeGreaterThanOrEqual(40);

    // The same again: nothing new. One service renamed: one update.
    expect((await importAs(d, services)).total).toMatchObject({ created: 0, updated: 0, refused: 0 });
    const renamed = structuredClone(services);
    (renamed[3] as { name: string }).name = 'Renamed walking group';
    expect((await importAs(d, renamed)).total).toMatchObject({ created: 0, updated: 1 });
    expect(await counts(d.store)).toEqual(stored);

    // Bad records among good ones: each refused with its id and reason, the rest stored.
    const mixed = [
      { id: 'no-name-1', name: '  ' },
      { name: 'No id' },
      {
        id: 'far-1',
        name: 'Far away',
        service_at_locations: [{ location: { id: 'loc-far', name: 'Sea', latitude: 95, longitude: 0 } }],
      },
      { id: 'good-1', name: 'Good service', organization: { id: 'org-good', name: 'Good org' } },
    ];
    const result = await importAs(d, { content: mixed, totalElements: 4, totalPages: 1, number: 0, size: 4 });
    expect(result.refusals).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'service', id: 'no-name-1', reason: 'no name' }),
        expect.objectContaining({ kind: 'service', reason: 'no id' }),
        expect.objectContaining({ kind: 'location', id: 'loc-far', reason: 'coordinates out of range' }),
      ]),
    );
    expect(result.service.created).toBe(1);
    // A service with no organisation cannot be stored (the profile needs providedBy): refused, named.
    expect(result.refusals).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'service', id: 'far-1' })]),
    );
  });

  it("keeps two publishers' records apart when each import names its source, though their ids are the same", async () => {
    const d = await directoryApp();
    const feed = generateOpenReferralServices(5, 3);
    const at = (source: string) => `${IMPORT}?source=${encodeURIComponent(source)}`;
    const send = async (path: string, body: unknown) => {
      const response = await d.as(d.admin, path, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBe(200);
      return countsOf((await response.json()) as Parameters);
    };
    const leeds = await send(at('https://directory.leeds.example/api/'), feed);
    expect(leeds.service.created).toBe(5);
    const york = await send(at('https://directory.york.example/api'), feed);
    expect(york.service.created).toBe(5);
    expect((await send(at('https://directory.leeds.example/api'), feed)).total).toMatchObject({
      created: 0,
      updated: 0,
    });
    const services = (await (await d.as(d.sp, '/fhir/HealthcareService?_count=100')).json()) as Bundle;
    const systems = new Set(
      (services.entry ?? []).flatMap(
        (e) => (e.resource as HealthcareService).identifier?.map((i) => i.system) ?? [],
      ),
    );
    expect(systems).toEqual(
      new Set([
        'https://directory.leeds.example/api/services',
        'https://directory.york.example/api/services',
      ]),
    );
    for (const source of [
      'not a url',
      'ftp://x.example/',
      'https://x.example/api?page=2',
      'https://x.example/#a',
    ]) {
      await expectOutcome(await d.as(d.admin, at(source), { method: 'POST', body: feed }), 400);
    }
  });

  it('stores records whose ids hold search syntax as they are, and finds them again', async () => {
    const d = await directoryApp();
    const feed = [
      { id: 'a&b=c', name: 'Ampersand walks', organization: { id: 'org%2C1', name: 'Comma org' } },
      { id: 'x,y|z', name: 'Comma walks', organization: { id: 'org%2C1', name: 'Comma org' } },
    ];
    const first = await importAs(d, feed);
    // What a token search reads as syntax (, | $ \\) is refused in an id; & and % are kept.
    expect(first.total).toMatchObject({ created: 2, refused: 1 });
    expect(first.refusals).toEqual([
      expect.objectContaining({ kind: 'service', reason: 'id holds a comma, |, $ or \\' }),
    ]);
    expect((await importAs(d, feed)).total).toMatchObject({ created: 0, updated: 0, unchanged: 2 });
  });

  it('never gives two directory entries one charity number', async () => {
    const d = await directoryApp();
    const org = (id: string, number: string) => ({
      id,
      name: `Charity ${id}`,
      organization_identifiers: [{ identifier_scheme: 'GB-CHC', identifier: number }],
      services: [{ id: `service-of-${id}`, name: `Service of ${id}` }],
    });
    // Two organisations of one feed with one number: the first is stored, the second refused.
    const same = await importAs(d, [org('o1', '1111111'), org('o2', '1111111')]);
    expect(same.organization).toMatchObject({ created: 1, refused: 1 });
    expect(same.refusals).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'organization',
          id: 'o2',
          reason: 'an identifier it carries is held by another directory entry',
        }),
      ]),
    );
    // A registered organisation's number, on an organisation stored under another ORUK id: refused.
    await createdId(await d.post('Organization', charity('2222222')));
    expect((await importAs(d, [org('o3', '3333333')])).organization.created).toBe(1);
    expect((await importAs(d, [org('o3', '2222222')])).organization).toMatchObject({ refused: 1 });
    // A new ORUK organisation with a registered number is that organisation, updated in place.
    const adopted = await importAs(d, [org('o4', '2222222')]);
    expect(adopted.organization).toMatchObject({ created: 0, updated: 1, refused: 0 });
  });

  it('and a registration alongside an import of the same number makes one entry, whichever goes first', async () => {
    const d = await directoryApp();
    const feed = [
      {
        id: 'o9',
        name: 'Charity o9',
        organization_identifiers: [{ identifier_scheme: 'GB-CHC', identifier: '4444444' }],
        services: [{ id: 'service-of-o9', name: 'Service of o9' }],
      },
    ];
    await Promise.all([
      d.post('Organization', charity('4444444')),
      d.as(d.admin, IMPORT, { method: 'POST', body: feed, headers: { 'content-type': 'application/json' } }),
    ]);
    const found = (await (
      await d.as(d.sp, `/fhir/Organization?identifier=${DIRECTORY_SYSTEM.charityNumber}|4444444`)
    ).json()) as Bundle;
    expect(found.entry).toHaveLength(1);
  });

  it('refuses, one by one, the records the store refuses, and stores the rest', async () => {
    const inner = createEmbeddedStore({ timeoutMs: 5_000 }).store;
    let mode: 'entry' | 'whole' = 'entry';
    const names = (bundle: Bundle) =>
      (bundle.entry ?? []).map((e) => (e.resource as { name?: string } | undefined)?.name);
    const store: FhirStore = {
      ...inner,
      bundle: async (bundle) => {
        if (bundle.type !== 'batch' || !names(bundle).includes('Refused by the store'))
          return inner.bundle(bundle);
        if (mode === 'whole') {
          throw new StoreError(400, {
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'error', code: 'invalid' }],
          });
        }
        const at = names(bundle).indexOf('Refused by the store');
        const kept = { ...bundle, entry: bundle.entry?.filter((_, i) => i !== at) };
        const answer = await inner.bundle(kept);
        const entry = [...(answer.entry ?? [])];
        entry.splice(at, 0, { response: { status: '400 Bad Request' } });
        return { ...answer, entry };
      },
    };
    const d = await directoryApp({ store });
    const feed = (n: number) => [
      { id: `ok-${n}a`, name: 'Kept one', organization: { id: `org-${n}`, name: 'Org' } },
      { id: `bad-${n}`, name: 'Refused by the store', organization: { id: `org-${n}`, name: 'Org' } },
      { id: `ok-${n}b`, name: 'Kept two', organization: { id: `org-${n}`, name: 'Org' } },
    ];
    const entryRefused = await importAs(d, feed(1));
    expect(entryRefused.service).toMatchObject({ created: 2, refused: 1 });
    expect(entryRefused.refusals).toEqual([
      expect.objectContaining({
        kind: 'service',
        id: 'bad-1',
        reason: 'refused by the store (400 Bad Request)',
      }),
    ]);
    // A batch the store refuses whole is sent again a record at a time: only the bad one is refused.
    mode = 'whole';
    const wholeRefused = await importAs(d, feed(2));
    expect(wholeRefused.service).toMatchObject({ created: 2, refused: 1 });
    expect(wholeRefused.refusals).toEqual([
      expect.objectContaining({
        kind: 'service',
        id: 'bad-2',
        reason: 'refused by the store',
      }),
    ]);
  });

  it('refuses an import of more records than one request may hold, storing nothing', async () => {
    const d = await directoryApp();
    const before = await counts(d.store);
    const many = Array.from({ length: 2001 }, (_, i) => ({ id: `s${i}`, name: `Service ${i}` }));
    await expectOutcome(
      await d.as(d.admin, IMPORT, {
        method: 'POST',
        body: many,
        headers: { 'content-type': 'application/json' },
      }),
      413,
    );
    expect(await counts(d.store)).toEqual(before);
  });

  it('makes imported places findable near a person, with their services', async () => {
    const d = await directoryApp();
    await importAs(d, generateOpenReferralServices(60, 11));
    const all = (await (await d.as(d.sp, '/fhir/Location?_count=1')).json()) as Bundle;
    const one = all.entry?.[0]?.resource as Location;
    const { latitude, longitude } = one.position as { latitude: number; longitude: number };
    const near = (await (
      await d.as(
        d.sp,
        `/fhir/Location?near=${latitude}|${longitude}|1|km&_revinclude=HealthcareService:location`,
      )
    ).json()) as Bundle;
    expect(near.entry?.[0]?.resource?.id).toBe(one.id);
    expect(near.entry?.some((e) => e.search?.mode === 'include')).toBe(true);
  });

  it('refuses what is not a feed, a client without directory scopes, and answers 503/504 when Medplum fails', async () => {
    const { store, fail } = switchableStore();
    const d = await directoryApp({ store });
    const before = await counts(d.store);
    await expectOutcome(await d.as(d.admin, IMPORT, { method: 'POST', body: 42 }), 422);
    await expectOutcome(
      await d.as(d.admin, IMPORT, { method: 'POST', body: { resourceType: 'Bundle' } }),
      422,
    );
    await expectOutcome(
      await d.as(d.gp, IMPORT, { method: 'POST', body: generateOpenReferralServices(2) }),
      403,
    );
    const servicesOnly = await d.token('riverside-directory-admin', 'system/HealthcareService.cru');
    await expectOutcome(
      await d.as(servicesOnly, IMPORT, { method: 'POST', body: generateOpenReferralServices(2) }),
      403,
    );
    expect(await counts(d.store)).toEqual(before);
    fail('unavailable');
    await expectOutcome(
      await d.as(d.admin, IMPORT, { method: 'POST', body: generateOpenReferralServices(2) }),
      503,
    );
  });
});
