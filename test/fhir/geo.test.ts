import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cellsCovering,
  distanceKm,
  GEOHASH_PRECISIONS,
  geohash,
  geohashesOf,
  isValidPoint,
} from '../../src/fhir/geo.ts';

const point = fc.record({
  latitude: fc.double({ min: -89.9, max: 89.9, noNaN: true }),
  longitude: fc.double({ min: -179.9, max: 179.9, noNaN: true }),
});

describe('geohash', () => {
  it('matches published values', () => {
    // Wikipedia's example: 57.64911, 10.40744 is u4pruydqqvj.
    expect(geohash({ latitude: 57.64911, longitude: 10.40744 }, 11)).toBe('u4pruydqqvj');
    // Trafalgar Square, London.
    expect(geohash({ latitude: 51.508, longitude: -0.128 }, 6)).toBe('gcpvj0');
  });

  it('tags a point with nested cells, largest first', () => {
    const tags = geohashesOf({ latitude: 53.4808, longitude: -2.2426 });
    expect(tags.map((t) => t.length)).toEqual([...GEOHASH_PRECISIONS]);
    for (let i = 1; i < tags.length; i++) expect(tags[i]?.startsWith(tags[i - 1] as string)).toBe(true);
  });
});

describe('distance', () => {
  it('measures London to Manchester as about 262 km', () => {
    const london = { latitude: 51.5074, longitude: -0.1278 };
    const manchester = { latitude: 53.4808, longitude: -2.2426 };
    expect(distanceKm(london, manchester)).toBeGreaterThan(255);
    expect(distanceKm(london, manchester)).toBeLessThan(270);
    expect(distanceKm(london, london)).toBe(0);
  });

  it('checks coordinates are within range', () => {
    expect(isValidPoint({ latitude: 51.5, longitude: -0.1 })).toBe(true);
    expect(isValidPoint({ latitude: 100, longitude: 101 })).toBe(false);
    expect(isValidPoint({ latitude: 51.5, longitude: -181 })).toBe(false);
    expect(isValidPoint({ latitude: Number.NaN, longitude: 0 })).toBe(false);
    expect(isValidPoint(undefined)).toBe(false);
  });
});

describe('cells covering a circle', () => {
  it('hold every point within the radius (property)', () => {
    fc.assert(
      fc.property(
        point,
        fc.double({ min: 0.1, max: 250, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 2 * Math.PI, noNaN: true }),
        (centre, radius, fraction, bearing) => {
          const cells = cellsCovering(centre, radius);
          // Refused only where the circle reaches round a pole: never a cover that misses a part.
          if (!cells) {
            expect(90 - Math.abs(centre.latitude)).toBeLessThan((radius / 6371.0088) * (180 / Math.PI) + 1);
            return;
          }
          expect((cells as string[]).length).toBeLessThanOrEqual(24);
          // A point at `fraction` of the radius in direction `bearing`.
          const d = (radius * fraction) / 6371.0088;
          const lat1 = (centre.latitude * Math.PI) / 180;
          const lng1 = (centre.longitude * Math.PI) / 180;
          const lat2 = Math.asin(
            Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(bearing),
          );
          const lng2 =
            lng1 +
            Math.atan2(
              Math.sin(bearing) * Math.sin(d) * Math.cos(lat1),
              Math.cos(d) - Math.sin(lat1) * Math.sin(lat2),
            );
          const target = {
            latitude: (lat2 * 180) / Math.PI,
            longitude: (((lng2 * 180) / Math.PI + 540) % 360) - 180,
          };
          if (distanceKm(centre, target) > radius) return;
          const precision = (cells as string[])[0]?.length as number;
          expect(cells).toContain(geohash(target, precision));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('uses fine cells for a short distance and coarse ones for a long one', () => {
    const leeds = { latitude: 53.8, longitude: -1.55 };
    expect(cellsCovering(leeds, 1)?.[0]?.length).toBe(6);
    expect(cellsCovering(leeds, 100)?.[0]?.length).toBeLessThanOrEqual(3);
  });

  it('refuses a circle reaching all the way round a pole rather than miss part of it', () => {
    // 229 km around a point 300 km from the South Pole takes every longitude: too many cells.
    expect(cellsCovering({ latitude: -87.28, longitude: -94.1 }, 229)).toBeUndefined();
  });

  it('covers a circle across the antimeridian', () => {
    const cells = cellsCovering({ latitude: 0, longitude: 179.99 }, 5) as string[];
    expect(cells).toContain(geohash({ latitude: 0, longitude: -179.99 }, cells[0]?.length as number));
  });
});
