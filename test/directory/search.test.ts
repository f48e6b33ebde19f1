import type { Bundle, Location } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { distanceKm } from '../../src/fhir/geo.ts';
import { expectOutcome } from '../support/app.ts';
import { category, charity, createdId, type DirectoryApp, directoryApp, place, service } from './support.ts';

const LEEDS = { latitude: 53.7997, longitude: -1.5492 };
/** Places around Leeds city centre, at known distances, and one in York (about 36 km away). */
const PLACES: [string, number, number][] = [
  ['Park Square', 53.7986, -1.5536],
  ['Hyde Park', 53.8125, -1.5705],
  ['Roundhay Park', 53.8387, -1.4989],
  ['Kirkstall Abbey', 53.8216, -1.6049],
  ['Temple Newsam', 53.7846, -1.4591],
  ['York Minster', 53.9623, -1.0819],
];

let d: DirectoryApp;
const ids = new Map<string, string>();
let walkers: string;
let advice: string;

beforeAll(async () => {
  d = await directoryApp();
  walkers = await createdId(await d.post('Organization', charity('1001', 'Leeds Walkers (example)')));
  advice = await createdId(await d.post('Organization', charity('1002', 'Money Advice Leeds (example)')));
  for (const [name, lat, lng] of PLACES)
    ids.set(name, await createdId(await d.post('Location', place(name, lat, lng))));
  const at = (...names: string[]) => names.map((n) => ({ reference: `Location/${ids.get(n)}` }));
  const services = [
    service(walkers, 'Monday health walk', {
      category: [category('physical-activity')],
      location: at('Roundhay Park'),
    }),
    service(walkers, 'Riverside walking group', {
      category: [category('physical-activity')],
      location: at('Kirkstall Abbey', 'Park Square'),
    }),
    service(advice, 'Debt advice drop-in', {
      category: [category('money-and-debt')],
      location: at('Park Square'),
    }),
    service(advice, 'Benefits advice (closed)', {
      active: false,
      category: [category('money-and-debt')],
      location: at('Hyde Park'),
    }),
    service(walkers, 'York walks', {
      category: [category('physical-activity')],
      location: at('York Minster'),
    }),
  ];
  for (const s of services) await createdId(await d.post('HealthcareService', s));
});

const search = async (path: string) => {
  const response = await d.as(d.sp, path);
  expect(response.status).toBe(200);
  return (await response.json()) as Bundle;
};
const names = (bundle: Bundle, mode = 'match') =>
  (bundle.entry ?? [])
    .filter((e) => e.search?.mode === mode)
    .map((e) => (e.resource as { name: string }).name);

describe('finding services', () => {
  it('by category, name, active and organisation', async () => {
    const activity =
      'https://fhir.social-prescribing.example.org/CodeSystem/social-prescribing-activity-category';
    expect(
      names(await search(`/fhir/HealthcareService?service-category=${activity}|physical-activity`)).sort(),
    ).toEqual(['Monday health walk', 'Riverside walking group', 'York walks']);
    expect(names(await search('/fhir/HealthcareService?name:contains=advice&active=true'))).toEqual([
      'Debt advice drop-in',
    ]);
    expect(names(await search('/fhir/HealthcareService?name=monday'))).toEqual(['Monday health walk']);
    expect(names(await search(`/fhir/HealthcareService?organization=Organization/${advice}`)).sort()).toEqual(
      ['Benefits advice (closed)', 'Debt advice drop-in'],
    );
    expect(
      names(await search(`/fhir/HealthcareService?location=Location/${ids.get('Park Square')}`)).sort(),
    ).toEqual(['Debt advice drop-in', 'Riverside walking group']);
  });

  it('with their places and providers included', async () => {
    const found = await search(
      '/fhir/HealthcareService?name=riverside&_include=HealthcareService:location&_include=HealthcareService:providedBy',
    );
    expect(names(found)).toEqual(['Riverside walking group']);
    expect(names(found, 'include').sort()).toEqual([
      'Kirkstall Abbey',
      'Leeds Walkers (example)',
      'Park Square',
    ]);
  });

  it('paged', async () => {
    const first = await search('/fhir/HealthcareService?_count=2');
    expect(first.entry).toHaveLength(2);
    const next = first.link?.find((l) => l.relation === 'next')?.url as string;
    expect(next).toMatch(/^http:\/\/facade\.test\/fhir\/HealthcareService\?/);
    const second = await search(next.replace('http://facade.test', ''));
    expect(second.entry).toHaveLength(2);
    expect(names(second)).not.toContain(names(first)[0]);
  });
});

describe('finding places near a person (near)', () => {
  const near = (query: string) => search(`/fhir/Location?near=${LEEDS.latitude}|${LEEDS.longitude}|${query}`);

  it('answers the places within the distance, nearest first, each with its distance', async () => {
    const found = await near('10|km');
    expect(names(found)).toEqual([
      'Park Square',
      'Hyde Park',
      'Kirkstall Abbey',
      'Roundhay Park',
      'Temple Newsam',
    ]);
    expect(found.total).toBe(5);
    const km = (found.entry ?? []).map((e) => e.search?.extension?.[0]?.valueDistance?.value as number);
    expect(km).toEqual([...km].sort((a, b) => a - b));
    for (const entry of found.entry ?? []) {
      const location = entry.resource as Location;
      const measured = distanceKm(LEEDS, location.position as { latitude: number; longitude: number });
      expect(entry.search?.extension?.[0]).toMatchObject({
        url: 'http://hl7.org/fhir/StructureDefinition/location-distance',
        valueDistance: { unit: 'km', code: 'km', system: 'http://unitsofmeasure.org' },
      });
      expect(
        Math.abs((entry.search?.extension?.[0]?.valueDistance?.value as number) - measured),
      ).toBeLessThan(0.001);
    }
  });

  it('holds to the radius, in any unit', async () => {
    expect(names(await near('3|km'))).toEqual(['Park Square', 'Hyde Park']);
    expect(names(await near('3000|m'))).toEqual(['Park Square', 'Hyde Park']);
    expect(names(await near('2|[mi_i]'))).toEqual(['Park Square', 'Hyde Park']);
    expect(names(await near('50|km'))).toContain('York Minster');
    // No distance: 10 km.
    expect(names(await search(`/fhir/Location?near=${LEEDS.latitude}|${LEEDS.longitude}`))).toHaveLength(5);
  });

  it('pages in distance order', async () => {
    const first = await near('50|km&_count=2');
    expect(names(first)).toEqual(['Park Square', 'Hyde Park']);
    expect(first.total).toBe(6);
    const next = first.link?.find((l) => l.relation === 'next')?.url as string;
    expect(decodeURIComponent(next)).toContain('near=53.7997|-1.5492|50|km');
    const second = await search(next.replace('http://facade.test', ''));
    expect(names(second)).toEqual(['Kirkstall Abbey', 'Roundhay Park']);
    const last = await near('50|km&_count=2&_offset=4');
    expect(names(last)).toEqual(['Temple Newsam', 'York Minster']);
    expect(last.link?.some((l) => l.relation === 'next')).toBe(false);
  });

  it('combines with other parameters, and includes the services offered there', async () => {
    expect(names(await near('10|km&name=roundhay'))).toEqual(['Roundhay Park']);
    const found = await near('3|km&_revinclude=HealthcareService:location');
    expect(names(found)).toEqual(['Park Square', 'Hyde Park']);
    expect(names(found, 'include').sort()).toEqual([
      'Benefits advice (closed)',
      'Debt advice drop-in',
      'Riverside walking group',
    ]);
    const byPost = await d.as(d.sp, '/fhir/Location/_search', {
      method: 'POST',
      body: `near=${LEEDS.latitude}|${LEEDS.longitude}|3|km`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(names((await byPost.json()) as Bundle)).toEqual(['Park Square', 'Hyde Park']);
    // Without near, a search by POST is the store's, as any other.
    const plain = await d.as(d.sp, '/fhir/Location/_search', {
      method: 'POST',
      body: 'name=roundhay',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(names((await plain.json()) as Bundle)).toEqual(['Roundhay Park']);
  });

  it('refuses what it cannot answer, clearly', async () => {
    for (const query of [
      '/fhir/Location?near=91|0|1|km',
      '/fhir/Location?near=53|x|1|km',
      '/fhir/Location?near=53|-1|1|furlong',
      '/fhir/Location?near=53|-1|-1|km',
      '/fhir/Location?near=53|-1|1000|km',
      '/fhir/Location?near=53|-1|1|km|extra',
      '/fhir/Location?near=53|-1|1|km&near=52|-1|1|km',
      '/fhir/Location?near=53|-1|1|km&_sort=name',
      '/fhir/Location?near=53|-1|1|km&_revinclude=Encounter:location',
      '/fhir/Location?near=53|-1|1|km&_count=x',
    ]) {
      await expectOutcome(await d.as(d.sp, query), 400);
    }
    const noSearchScope = await d.token('riverside-medical-gp-system', 'system/ServiceRequest.c');
    await expectOutcome(await d.as(noSearchScope, '/fhir/Location?near=53|-1|1|km'), 403);
    // Places may be searched, services not: the services at them are not included, but refused.
    const placesOnly = await d.token('riverside-medical-gp-system', 'system/Location.rs');
    expect((await d.as(placesOnly, '/fhir/Location?near=53.8|-1.55|3|km')).status).toBe(200);
    await expectOutcome(
      await d.as(placesOnly, '/fhir/Location?near=53.8|-1.55|3|km&_revinclude=HealthcareService:location'),
      403,
    );
  });
});
