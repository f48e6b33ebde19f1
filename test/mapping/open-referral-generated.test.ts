import type { HealthcareService, Location } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateOpenReferralServices } from '../../scripts/bench/open-referral-feed.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { profileErrors } from '../../src/fhir/profiles.ts';
import { validateBaseR4 } from '../../src/fhir/validate.ts';
import { mapOpenReferral } from '../../src/mapping/open-referral.ts';

beforeAll(() => indexDefinitions());

describe('generateOpenReferralServices', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    expect(generateOpenReferralServices(20, 3)).toEqual(generateOpenReferralServices(20, 3));
    expect(generateOpenReferralServices(20, 3)).not.toEqual(generateOpenReferralServices(20, 4));
  });

  it('maps 1,000 generated services in both shapes with no refusals', () => {
    const services = generateOpenReferralServices(1_000);
    expect(services.filter((s) => 'service_taxonomys' in s).length).toBeGreaterThan(300);
    expect(services.filter((s) => 'attributes' in s).length).toBeGreaterThan(300);

    const feed = mapOpenReferral(services);
    expect(feed.refused).toEqual([]);
    const count = (kind: string) => feed.records.filter((r) => r.kind === kind).length;
    expect(count('service')).toBe(1_000);
    expect(count('organization')).toBe(200);
    // Locations are shared: fewer than one per service.
    expect(count('location')).toBeGreaterThan(100);
    expect(count('location')).toBeLessThan(400);

    const kinds = feed.records.map((r) => r.kind);
    expect(kinds).toEqual([...kinds].sort((a, b) => order(a) - order(b)));

    for (const record of feed.records.filter((r) => r.kind === 'location')) {
      const { latitude, longitude } = (record.resource as Location).position ?? {};
      expect(latitude).toBeGreaterThanOrEqual(50);
      expect(latitude).toBeLessThanOrEqual(55.5);
      expect(longitude).toBeGreaterThanOrEqual(-5.5);
      expect(longitude).toBeLessThanOrEqual(1.7);
    }
    const mapped = feed.records
      .filter((r) => r.kind === 'service')
      .map((r) => r.resource as HealthcareService);
    expect(mapped.every((s) => s.providedBy && s.location?.length && s.type?.length)).toBe(true);
    expect(mapped.filter((s) => s.category?.length).length).toBeGreaterThan(900);
    expect(mapped.some((s) => s.active === false)).toBe(true);
  });

  it('maps them to resources that are valid R4 and meet the directory profiles', () => {
    const { records } = mapOpenReferral(generateOpenReferralServices(200, 11));
    const problems = records.flatMap((r) =>
      [...validateBaseR4(r.resource), ...profileErrors(r.resource, [])].map(
        (i) => `${r.kind}: ${i.expression}`,
      ),
    );
    expect(problems).toEqual([]);
  });
});

function order(kind: string): number {
  return ['organization', 'location', 'service'].indexOf(kind);
}
