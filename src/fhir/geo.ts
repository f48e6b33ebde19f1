/**
 * Places on the WGS84 globe: distances, and geohash cells (https://en.wikipedia.org/wiki/Geohash)
 * for finding what is near a point with an ordinary token search. Each Location the directory
 * stores is tagged with the cells that hold it at several sizes; a `near` search asks the store for
 * the few cells covering its circle and measures the distances itself, so it works on any FHIR
 * store, with or without support for `near`.
 */

const BASE32 = '0123456789bcdefghjkmnpqrstuvwxyz';
const EARTH_RADIUS_KM = 6371.0088;

/** Cell sizes kept on each Location: 2 (about 1,250 × 625 km) to 6 (about 1.2 × 0.6 km). */
export const GEOHASH_PRECISIONS = [2, 3, 4, 5, 6] as const;

/** Most cells one search asks for; finer cells than this would need are not used. */
const MAX_CELLS = 24;

export interface Point {
  latitude: number;
  longitude: number;
}

export function isValidPoint(point: Partial<Point> | undefined): point is Point {
  const { latitude, longitude } = point ?? {};
  return (
    typeof latitude === 'number' &&
    typeof longitude === 'number' &&
    Number.isFinite(latitude) &&
    Number.isFinite(longitude) &&
    latitude >= -90 &&
    latitude <= 90 &&
    longitude >= -180 &&
    longitude <= 180
  );
}

/** Great-circle distance in kilometres (haversine). */
export function distanceKm(a: Point, b: Point): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLng = (b.longitude - a.longitude) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Bits of longitude and latitude in a geohash of this many characters. */
function bitsOf(precision: number): { lng: number; lat: number } {
  const bits = precision * 5;
  return { lng: Math.ceil(bits / 2), lat: Math.floor(bits / 2) };
}

/** The cell's row and column at this precision. */
function cellIndex(point: Point, precision: number): { row: number; col: number } {
  const bits = bitsOf(precision);
  const rows = 2 ** bits.lat;
  const cols = 2 ** bits.lng;
  return {
    row: Math.min(rows - 1, Math.floor(((point.latitude + 90) / 180) * rows)),
    col: Math.min(cols - 1, Math.floor(((point.longitude + 180) / 360) * cols)),
  };
}

/** The geohash of a cell given by row and column: longitude and latitude bits interleaved. */
function hashOf(row: number, col: number, precision: number): string {
  const bits = bitsOf(precision);
  let hash = '';
  let value = 0;
  let count = 0;
  let lngBit = bits.lng - 1;
  let latBit = bits.lat - 1;
  for (let i = 0; i < precision * 5; i++) {
    const bit = i % 2 === 0 ? (col >> lngBit--) & 1 : (row >> latBit--) & 1;
    value = (value << 1) | bit;
    if (++count === 5) {
      hash += BASE32[value];
      value = 0;
      count = 0;
    }
  }
  return hash;
}

/** The geohash of the cell holding the point. */
export function geohash(point: Point, precision: number): string {
  const { row, col } = cellIndex(point, precision);
  return hashOf(row, col, precision);
}

/** The cells a point is tagged with, one per size, largest first. */
export function geohashesOf(point: Point): string[] {
  return GEOHASH_PRECISIONS.map((p) => geohash(point, p));
}

/**
 * Cells (of one size, the finest that needs at most MAX_CELLS) that together cover every point
 * within `radiusKm` of the centre. Undefined when even the largest size would need more.
 */
export function cellsCovering(centre: Point, radiusKm: number): string[] | undefined {
  const dLat = (radiusKm / EARTH_RADIUS_KM) * (180 / Math.PI);
  const south = Math.max(-90, centre.latitude - dLat);
  const north = Math.min(90, centre.latitude + dLat);
  // The widest the circle gets is at its pole-ward edge.
  const widestLat = Math.min(89.999, Math.max(Math.abs(south), Math.abs(north)));
  const dLng = Math.min(180, dLat / Math.cos((widestLat * Math.PI) / 180));
  const precisions = [...GEOHASH_PRECISIONS].reverse();
  for (const precision of precisions) {
    const low = cellIndex({ latitude: south, longitude: -180 }, precision).row;
    const high = cellIndex({ latitude: north, longitude: -180 }, precision).row;
    const cols = 2 ** bitsOf(precision).lng;
    const west = centre.longitude - dLng;
    const east = centre.longitude + dLng;
    // Near all the way round (close to a pole): every column, or the wrapped edges could meet.
    const span = east - west >= 360 - 360 / cols ? cols : undefined;
    const first = cellIndex(
      { latitude: 0, longitude: ((((west + 180) % 360) + 360) % 360) - 180 },
      precision,
    ).col;
    const last = cellIndex(
      { latitude: 0, longitude: ((((east + 180) % 360) + 360) % 360) - 180 },
      precision,
    ).col;
    const width = span ?? (last >= first ? last - first + 1 : cols - first + last + 1);
    if ((high - low + 1) * width > MAX_CELLS) continue;
    const cells: string[] = [];
    for (let row = low; row <= high; row++) {
      for (let i = 0; i < width; i++) cells.push(hashOf(row, (first + i) % cols, precision));
    }
    return cells;
  }
  return undefined;
}

/** Tags each stored Location with the geohash cells that hold its position. */
export const GEOHASH_TAG_SYSTEM = 'https://fhir.social-prescribing.example.org/CodeSystem/geohash';
