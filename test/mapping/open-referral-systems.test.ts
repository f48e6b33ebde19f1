import type { HealthcareService, Location } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { DIRECTORY_SYSTEM } from '../../src/fhir/systems.ts';
import {
  DEFAULT_FEED_SYSTEMS,
  feedSystemsOf,
  mapOpenReferral,
  withFeedSystems,
} from '../../src/mapping/open-referral.ts';

describe("a feed's identifier systems", () => {
  it('are the collections of its API, from its base URL', () => {
    expect(feedSystemsOf('https://api.example.gov.uk/oruk/')).toEqual({
      organization: 'https://api.example.gov.uk/oruk/organizations',
      location: 'https://api.example.gov.uk/oruk/locations',
      service: 'https://api.example.gov.uk/oruk/services',
    });
    for (const bad of [
      '',
      'example.gov.uk',
      'ftp://example.gov.uk',
      'https://x.example/?a=1',
      'https://x.example/#f',
      `https://x.example/${'a'.repeat(500)}`,
    ]) {
      expect(feedSystemsOf(bad), bad).toBeUndefined();
    }
  });

  it('replace the shared ones in every id and every link between records', () => {
    const feed = mapOpenReferral({
      id: 's1',
      name: 'Walks',
      organization: { id: 'o1', name: 'Walkers' },
      service_at_locations: [
        { location: { id: 'l1', name: 'Park', latitude: 53.8, longitude: -1.5, organization_id: 'o1' } },
      ],
    });
    const systems = feedSystemsOf('https://api.example.gov.uk') as NonNullable<
      ReturnType<typeof feedSystemsOf>
    >;
    const moved = withFeedSystems(feed, systems);
    const text = JSON.stringify(moved);
    expect(text).not.toContain(DIRECTORY_SYSTEM.orukService);
    expect(text).not.toContain(DIRECTORY_SYSTEM.orukOrganization);
    expect(text).not.toContain(DIRECTORY_SYSTEM.orukLocation);
    const service = moved.records.find((r) => r.kind === 'service')?.resource as HealthcareService;
    expect(service.identifier?.[0]).toEqual({ system: systems.service, value: 's1' });
    expect(service.providedBy?.identifier).toEqual({ system: systems.organization, value: 'o1' });
    expect(service.location?.[0]?.identifier).toEqual({ system: systems.location, value: 'l1' });
    const location = moved.records.find((r) => r.kind === 'location')?.resource as Location;
    expect(location.managingOrganization?.identifier?.system).toBe(systems.organization);
    // The shared systems leave a feed as it was.
    expect(withFeedSystems(feed, DEFAULT_FEED_SYSTEMS)).toEqual(feed);
  });
});
