import type { Bundle, BundleEntry, HealthcareService, Location } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { cellsCovering, distanceKm, GEOHASH_TAG_SYSTEM, isValidPoint, type Point } from '../fhir/geo.ts';
import { Failures, FhirError } from '../fhir/outcomes.ts';
import { pagingParam } from '../fhir/paging.ts';
import { toFacadeBundle, toPublicResource } from '../fhir/public-view.ts';
import type { FhirStore } from '../medplum/store.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../resources/read-resources.ts';

/** The farthest a `near` search reaches. */
export const MAX_NEAR_KM = 250;
/** The distance when `near` names none (R4 leaves it to the server). */
export const DEFAULT_NEAR_KM = 10;
/** Most candidate Locations one search measures; more is refused, asking for a shorter distance. */
export const MAX_NEAR_CANDIDATES = 10_000;
/** Candidates read per store call (Medplum's largest page). */
const CANDIDATE_PAGE = 1000;

/** R4's extension for a match's distance from the `near` point. */
export const LOCATION_DISTANCE = 'http://hl7.org/fhir/StructureDefinition/location-distance';

/** Kilometres per unit, for the units `near` may name (UCUM, and the plain forms). */
const UNITS: Record<string, number> = { km: 1, m: 0.001, '[mi_i]': 1.609344, mi: 1.609344 };

/** Parameters a `near` search may be combined with, passed on to the store. */
const COMPANIONS = [
  'name',
  'name:contains',
  'name:exact',
  'status',
  'address-postalcode',
  'address-city',
  'organization',
];
/** Parameters that shape the answer. */
const SHAPING = ['_count', '_offset', '_format', '_pretty', '_revinclude'];
const SERVICES_AT = 'HealthcareService:location';

export interface NearQuery {
  centre: Point;
  radiusKm: number;
}

/** `near=[latitude]|[longitude]|[distance]|[units]` (https://hl7.org/fhir/R4/location.html#positional). */
export function parseNear(value: string): NearQuery {
  const [lat, lng, distance, units = 'km', ...rest] = value.split('|');
  const centre = { latitude: Number(lat), longitude: Number(lng) };
  const bad = (diagnostics: string) => Failures.badRequest(diagnostics, ['near']);
  if (rest.length || lat === '' || lng === '' || !isValidPoint(centre)) {
    throw bad('near is latitude|longitude|distance|units, with latitude -90..90 and longitude -180..180');
  }
  const perUnit = UNITS[units];
  if (perUnit === undefined) throw bad('The distance of near is in km, m or [mi_i]');
  const radiusKm = distance === undefined || distance === '' ? DEFAULT_NEAR_KM : Number(distance) * perUnit;
  if (!Number.isFinite(radiusKm) || radiusKm <= 0) throw bad('The distance of near is a positive number');
  if (radiusKm > MAX_NEAR_KM) throw bad(`The distance of near is at most ${MAX_NEAR_KM} km`);
  return { centre, radiusKm };
}

/**
 * `GET /fhir/Location?near=...`: the Locations within the distance, nearest first, each with its
 * distance, paged; with `_revinclude=HealthcareService:location`, the services offered at the
 * page's Locations. Answered here rather than by the store (which may not support `near`): the
 * store is asked for the Locations in the few geohash cells covering the circle, and the facade
 * measures, orders and pages them.
 */
export async function searchNear(
  store: FhirStore,
  ctx: RequestContext,
  params: URLSearchParams,
  baseUrl: string,
): Promise<Bundle> {
  authorize(ctx.principal, 'Location', 's');
  for (const key of params.keys()) {
    if (key !== 'near' && !COMPANIONS.includes(key) && !SHAPING.includes(key)) {
      throw Failures.badRequest(`${key} is not supported together with near`, [key]);
    }
  }
  if (params.getAll('near').length !== 1) throw Failures.badRequest('near is given once', ['near']);
  const revincludes = params.getAll('_revinclude');
  if (revincludes.some((r) => r !== SERVICES_AT)) {
    throw Failures.badRequest(`With near, _revinclude is ${SERVICES_AT} only`, ['_revinclude']);
  }
  if (revincludes.length) authorize(ctx.principal, 'HealthcareService', 's');
  const near = parseNear(params.get('near') as string);
  const count = Math.min(pagingParam(params, '_count', DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE);
  const offset = pagingParam(params, '_offset', 0);
  const cells = cellsCovering(near.centre, near.radiusKm);
  if (!cells) throw Failures.badRequest('The distance of near covers too much of the globe', ['near']);

  const companions = new URLSearchParams();
  for (const [key, value] of params) if (COMPANIONS.includes(key)) companions.append(key, value);
  const matches = (await candidates(store, cells, companions))
    .map((location) => ({ location, km: distanceKm(near.centre, location.position as Point) }))
    .filter((m) => m.km <= near.radiusKm)
    // Places at one distance oldest first: an order paging can rely on that no server id decides.
    .sort(
      (a, b) =>
        a.km - b.km ||
        (a.location.meta?.lastUpdated ?? '').localeCompare(b.location.meta?.lastUpdated ?? '') ||
        (a.location.id ?? '').localeCompare(b.location.id ?? ''),
    );
  const page = matches.slice(offset, offset + count);
  const entry: BundleEntry[] = page.map(({ location, km }) => ({
    resource: toPublicResource(location),
    search: {
      mode: 'match',
      extension: [
        {
          url: LOCATION_DISTANCE,
          valueDistance: {
            value: Math.round(km * 1000) / 1000,
            unit: 'km',
            system: 'http://unitsofmeasure.org',
            code: 'km',
          },
        },
      ],
    },
  }));
  if (revincludes.length && page.length)
    entry.push(
      ...(await servicesAt(
        store,
        page.map((m) => m.location),
      )),
    );
  for (const e of entry) ctx.touched.push(`${e.resource?.resourceType}/${e.resource?.id}`);
  const query = new URLSearchParams(params);
  query.set('_count', String(count));
  if (offset > 0) query.set('_offset', String(offset));
  else query.delete('_offset');
  return toFacadeBundle(
    { resourceType: 'Bundle', type: 'searchset', total: matches.length, entry },
    { baseUrl, path: 'Location', query },
  );
}

/** Every Location in the cells (and matching the other parameters) that has a position. */
async function candidates(
  store: FhirStore,
  cells: string[],
  companions: URLSearchParams,
): Promise<Location[]> {
  const found: Location[] = [];
  for (let offset = 0; ; offset += CANDIDATE_PAGE) {
    const query = new URLSearchParams(companions);
    query.set('_tag', cells.map((cell) => `${GEOHASH_TAG_SYSTEM}|${cell}`).join(','));
    query.set('_count', String(CANDIDATE_PAGE));
    if (offset) query.set('_offset', String(offset));
    const page = await store.search('Location', query);
    const locations = (page.entry ?? []).flatMap((e) =>
      e.resource?.resourceType === 'Location' && e.search?.mode !== 'include' ? [e.resource] : [],
    );
    found.push(...locations.filter((l) => isValidPoint(l.position)));
    if (locations.length < CANDIDATE_PAGE) return found;
    if (offset + CANDIDATE_PAGE >= MAX_NEAR_CANDIDATES) {
      throw new FhirError('malformed', [
        {
          code: 'too-costly',
          diagnostics: `More than ${MAX_NEAR_CANDIDATES} locations lie in that area; search a shorter distance`,
          expression: ['near'],
        },
      ]);
    }
  }
}

/** The services offered at these Locations, as included entries, in one store call. */
async function servicesAt(store: FhirStore, locations: Location[]): Promise<BundleEntry[]> {
  const query = new URLSearchParams({
    location: locations.map((l) => `Location/${l.id}`).join(','),
    _count: String(CANDIDATE_PAGE),
  });
  const found = await store.search('HealthcareService', query);
  return (found.entry ?? []).flatMap((e) =>
    e.resource?.resourceType === 'HealthcareService'
      ? [
          {
            resource: toPublicResource(e.resource as HealthcareService),
            search: { mode: 'include' as const },
          },
        ]
      : [],
  );
}
