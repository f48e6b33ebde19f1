import type { HealthcareService, Location, Organization } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { DIRECTORY_SYSTEM } from '../../src/fhir/systems.ts';
import {
  type MappedFeed,
  mapOpenReferral,
  OPEN_REFERRAL_REFUSAL as REFUSAL,
} from '../../src/mapping/open-referral.ts';

const CATEGORY =
  'https://fhir.social-prescribing.example.org/CodeSystem/social-prescribing-activity-category';
const OWN_TAXONOMY = 'https://fhir.social-prescribing.example.org/CodeSystem/open-referral-taxonomy';

/** A service in the ORUK v1 API shape (phones under contacts, physical_addresses, service_taxonomys). */
const v1Service = (extra: Record<string, unknown> = {}) => ({
  id: 'svc-1',
  name: '  Riverside Walking Group ',
  description: 'Weekly led walks for all abilities.',
  url: 'https://walks.riverside.example.org',
  email: 'walks@riverside.example.org',
  status: 'active',
  fees: '',
  deliverable_type: 'Activity',
  organization: {
    id: 'org-1',
    name: 'Riverside Community Trust',
    description: 'Local charity.',
    email: 'hello@riverside.example.org',
    url: 'https://riverside.example.org',
    logo: '',
  },
  contacts: [{ id: 'c1', name: '', title: 'Enquiries', phones: [{ id: 'p1', number: '01632 960001' }] }],
  service_at_locations: [
    {
      id: 'sal-1',
      location: {
        id: 'loc-1',
        name: 'Riverside Park Pavilion',
        description: '',
        latitude: 53.7632,
        longitude: -2.7044,
        physical_addresses: [
          {
            id: 'a1',
            address_1: 'Park Road',
            city: 'Riverside',
            state_province: 'Lancashire',
            postal_code: 'ZZ1 1ZZ',
            country: 'GB',
          },
        ],
      },
      regular_schedule: [],
    },
  ],
  service_taxonomys: [
    {
      id: 't1',
      taxonomy: { id: 'bccsoc:walking', name: 'Walking', vocabulary: 'BCC Social Prescribing', parent: null },
    },
    {
      id: 't2',
      taxonomy: { id: 'bccsoc:walking', name: 'Walking', vocabulary: 'BCC Social Prescribing', parent: null },
    },
  ],
  ...extra,
});

const orgRef = (value: string, display?: string) => ({
  type: 'Organization',
  identifier: { system: DIRECTORY_SYSTEM.orukOrganization, value },
  ...(display && { display }),
});
const locRef = (value: string, display?: string) => ({
  type: 'Location',
  identifier: { system: DIRECTORY_SYSTEM.orukLocation, value },
  ...(display && { display }),
});

function byKind(feed: MappedFeed) {
  const of = <T>(kind: string) => feed.records.filter((r) => r.kind === kind).map((r) => r.resource as T);
  return {
    organizations: of<Organization>('organization'),
    locations: of<Location>('location'),
    services: of<HealthcareService>('service'),
  };
}

describe('mapOpenReferral: ORUK v1 API shape', () => {
  it('maps a service with its organisation, location and taxonomy, organisations first', () => {
    const feed = mapOpenReferral(v1Service());
    expect(feed.refused).toEqual([]);
    expect(feed.records.map((r) => [r.kind, r.orukId])).toEqual([
      ['organization', 'org-1'],
      ['location', 'loc-1'],
      ['service', 'svc-1'],
    ]);
    const [organization, location, service] = feed.records.map((r) => r.resource);
    expect(organization).toEqual({
      resourceType: 'Organization',
      identifier: [{ system: DIRECTORY_SYSTEM.orukOrganization, value: 'org-1' }],
      active: true,
      name: 'Riverside Community Trust',
      telecom: [
        { system: 'email', value: 'hello@riverside.example.org' },
        { system: 'url', value: 'https://riverside.example.org' },
      ],
    });
    expect(location).toEqual({
      resourceType: 'Location',
      identifier: [{ system: DIRECTORY_SYSTEM.orukLocation, value: 'loc-1' }],
      status: 'active',
      name: 'Riverside Park Pavilion',
      address: {
        type: 'physical',
        line: ['Park Road'],
        city: 'Riverside',
        district: 'Lancashire',
        postalCode: 'ZZ1 1ZZ',
        country: 'GB',
      },
      position: { latitude: 53.7632, longitude: -2.7044 },
    });
    expect(service).toEqual({
      resourceType: 'HealthcareService',
      identifier: [{ system: DIRECTORY_SYSTEM.orukService, value: 'svc-1' }],
      active: true,
      category: [
        { coding: [{ system: CATEGORY, code: 'physical-activity', display: 'Physical activity and sport' }] },
      ],
      type: [
        {
          coding: [
            { system: `${OWN_TAXONOMY}/bcc-social-prescribing`, code: 'bccsoc:walking', display: 'Walking' },
          ],
        },
      ],
      name: 'Riverside Walking Group',
      comment: 'Weekly led walks for all abilities.',
      telecom: [
        { system: 'phone', value: '01632 960001' },
        { system: 'email', value: 'walks@riverside.example.org' },
        { system: 'url', value: 'https://walks.riverside.example.org' },
      ],
      providedBy: orgRef('org-1', 'Riverside Community Trust'),
      location: [locRef('loc-1', 'Riverside Park Pavilion')],
    });
  });

  it('maps a v1 list page (content, totalElements, number, first, last)', () => {
    const page = {
      totalElements: 3,
      totalPages: 1,
      number: 0,
      size: 3,
      first: true,
      last: true,
      content: [
        v1Service(),
        v1Service({ id: 'svc-2', name: 'Riverside Befriending', service_taxonomys: [] }),
        v1Service({ id: 'svc-3', name: '' }),
      ],
    };
    const feed = mapOpenReferral(page);
    expect(feed.records.map((r) => `${r.kind}:${r.orukId}`)).toEqual([
      'organization:org-1',
      'location:loc-1',
      'service:svc-1',
      'service:svc-2',
    ]);
    expect(feed.refused).toEqual([
      { kind: 'service', orukId: 'svc-3', index: 'content[2]', reason: 'no name' },
    ]);
  });

  it('refuses a location with a blank name (as v1 feeds often send) and keeps a named one', () => {
    const service = v1Service({
      service_at_locations: [
        { id: 's1', location: { id: 'loc-a', name: '', physical_addresses: [{ address_1: '1 Mill Lane' }] } },
        { id: 's2', location: { id: 'loc-b', name: '  ', latitude: 52, longitude: -1 } },
        {
          id: 's3',
          location: { id: 'loc-c', name: 'Village Hall', physical_addresses: [{ address_1: '  ' }] },
        },
      ],
    });
    const feed = mapOpenReferral(service);
    const { locations, services } = byKind(feed);
    expect(locations).toEqual([
      {
        resourceType: 'Location',
        identifier: [{ system: DIRECTORY_SYSTEM.orukLocation, value: 'loc-c' }],
        status: 'active',
        name: 'Village Hall',
      },
    ]);
    expect(feed.refused).toEqual([
      { kind: 'location', orukId: 'loc-a', index: 'service_at_locations[0].location', reason: 'no name' },
      { kind: 'location', orukId: 'loc-b', index: 'service_at_locations[1].location', reason: 'no name' },
    ]);
    expect(services[0]?.location).toEqual([locRef('loc-c', 'Village Hall')]);
  });
});

describe('mapOpenReferral: HSDS 3 / ORUK 3 shape', () => {
  const hsdsService = (extra: Record<string, unknown> = {}) => ({
    id: 'svc-h',
    organization_id: 'org-h',
    name: 'Carers Café',
    description: 'A monthly café for unpaid carers.',
    status: 'active',
    phones: [{ id: 'p', number: '0113 496 0000', extension: 12 }],
    organization: {
      id: 'org-h',
      name: 'Kingsmead Carers Network',
      alternate_name: 'KCN',
      website: 'https://kcn.example.org',
      phones: [{ number: '0113 496 0001' }],
      organization_identifiers: [
        { identifier_scheme: 'GB-CHC', identifier_type: 'Charity number', identifier: '1123456' },
        { identifier_scheme: 'GB-COH', identifier_type: 'Company number', identifier: '01234567' },
        { identifier_scheme: 'GB-SC', identifier_type: 'Scottish charity number', identifier: 'SC012345' },
        { identifier_type: 'Registered charity number', identifier: 1098765 },
        { identifier_type: 'Charity number', identifier: 'not known' },
        { identifier_scheme: 'GB-EDU', identifier: '123456' },
      ],
    },
    service_at_locations: [
      {
        id: 'sal',
        location: {
          id: 'loc-h',
          location_type: 'physical',
          name: 'Kingsmead Library',
          alternate_name: 'The Library',
          description: 'Ground floor meeting room.',
          latitude: '53.8',
          longitude: ' -1.55 ',
          external_identifier: '100023336956',
          external_identifier_type: 'UPRN',
          addresses: [
            { address_1: 'PO Box 1', city: 'Kingsmead', postal_code: 'ZZ2 2ZZ', address_type: 'postal' },
            {
              address_1: '2 Market Place',
              address_2: 'Kingsmead Centre',
              city: 'Kingsmead',
              region: 'West Yorkshire',
              state_province: 'Yorkshire',
              postal_code: 'ZZ2 3ZZ',
              country: 'GB',
              address_type: 'physical',
            },
          ],
        },
      },
    ],
    attributes: [
      {
        id: 'at1',
        taxonomy_term: {
          id: 'term-1',
          code: 'carers',
          name: 'Carers support',
          taxonomy: 'Local types',
          term_uri: 'https://directory.example.org/taxonomy#carers',
        },
      },
    ],
    ...extra,
  });

  it('maps the organisation identifiers, phones, UPRN, address and position', () => {
    const feed = mapOpenReferral(hsdsService());
    expect(feed.refused).toEqual([]);
    const { organizations, locations, services } = byKind(feed);
    expect(organizations).toEqual([
      {
        resourceType: 'Organization',
        identifier: [
          { system: DIRECTORY_SYSTEM.orukOrganization, value: 'org-h' },
          { system: DIRECTORY_SYSTEM.charityNumber, value: '1123456' },
          { system: DIRECTORY_SYSTEM.companyNumber, value: '01234567' },
          { system: DIRECTORY_SYSTEM.charityNumber, value: '1098765' },
        ],
        active: true,
        name: 'Kingsmead Carers Network',
        alias: ['KCN'],
        telecom: [
          { system: 'phone', value: '0113 496 0001' },
          { system: 'url', value: 'https://kcn.example.org' },
        ],
      },
    ]);
    expect(locations).toEqual([
      {
        resourceType: 'Location',
        identifier: [
          { system: DIRECTORY_SYSTEM.orukLocation, value: 'loc-h' },
          { system: DIRECTORY_SYSTEM.uprn, value: '100023336956' },
        ],
        status: 'active',
        name: 'Kingsmead Library',
        alias: ['The Library'],
        description: 'Ground floor meeting room.',
        address: {
          type: 'physical',
          line: ['2 Market Place', 'Kingsmead Centre'],
          city: 'Kingsmead',
          district: 'West Yorkshire',
          postalCode: 'ZZ2 3ZZ',
          country: 'GB',
        },
        position: { latitude: 53.8, longitude: -1.55 },
      },
    ]);
    expect(services).toEqual([
      {
        resourceType: 'HealthcareService',
        identifier: [{ system: DIRECTORY_SYSTEM.orukService, value: 'svc-h' }],
        active: true,
        category: [{ coding: [{ system: CATEGORY, code: 'carer-support', display: 'Support for carers' }] }],
        type: [
          {
            coding: [
              { system: 'https://directory.example.org/taxonomy', code: 'carers', display: 'Carers support' },
            ],
          },
        ],
        name: 'Carers Café',
        comment: 'A monthly café for unpaid carers.',
        telecom: [{ system: 'phone', value: '0113 496 0000' }],
        providedBy: orgRef('org-h', 'Kingsmead Carers Network'),
        location: [locRef('loc-h', 'Kingsmead Library')],
      },
    ]);
  });

  it.each([
    ['inactive', false],
    ['defunct', false],
    ['temporarily closed', false],
    ['Temporarily_Closed', false],
    ['active', true],
    [undefined, true],
    ['something else', true],
  ])('status %s gives active %s', (status, active) => {
    const { services } = byKind(mapOpenReferral(hsdsService({ status })));
    expect(services[0]?.active).toBe(active);
  });

  it('maps a service_at_locations page: one service met at two locations has both', () => {
    const item = (id: string, location: Record<string, unknown>) => ({
      id,
      service_id: 'svc-h',
      location_id: location.id,
      service: hsdsService({ service_at_locations: [] }),
      location,
    });
    const page = {
      total_items: 3,
      total_pages: 1,
      page_number: 1,
      size: 3,
      first_page: true,
      last_page: true,
      empty: false,
      contents: [
        item('sal-1', { id: 'loc-1', name: 'Library', latitude: 53.8, longitude: -1.55 }),
        item('sal-2', { id: 'loc-2', name: 'Church Hall' }),
        { id: 'sal-3', service_id: 'svc-x', location_id: 'loc-3' },
      ],
    };
    const feed = mapOpenReferral(page);
    expect(feed.refused).toEqual([]);
    expect(feed.records.map((r) => `${r.kind}:${r.orukId}`)).toEqual([
      'organization:org-h',
      'location:loc-1',
      'location:loc-2',
      'service:svc-h',
    ]);
    expect(byKind(feed).services[0]?.location).toEqual([
      locRef('loc-1', 'Library'),
      locRef('loc-2', 'Church Hall'),
    ]);
  });

  it('maps a single service_at_location object', () => {
    const feed = mapOpenReferral({
      id: 'sal',
      service: hsdsService({ service_at_locations: [] }),
      location: { id: 'l', name: 'Hall' },
    });
    expect(feed.records.map((r) => `${r.kind}:${r.orukId}`)).toEqual([
      'organization:org-h',
      'location:l',
      'service:svc-h',
    ]);
  });

  it('links by organization_id and location_id alone, for the writer to resolve', () => {
    const feed = mapOpenReferral({
      id: 's',
      name: 'Lunch club',
      organization_id: 'org-elsewhere',
      service_at_locations: [{ id: 'x', location_id: 'loc-elsewhere' }],
    });
    expect(feed.records.map((r) => r.kind)).toEqual(['service']);
    expect(byKind(feed).services[0]).toMatchObject({
      providedBy: orgRef('org-elsewhere'),
      location: [locRef('loc-elsewhere')],
    });
  });
});

describe('mapOpenReferral: organisation with its services', () => {
  const shared = { id: 'loc-s', name: 'Oakwood Community Centre', latitude: 52.48, longitude: -1.89 };
  const organisation = {
    id: 'org-o',
    name: 'Oakwood Volunteer Centre',
    email: 'hello@oakwood.example.org',
    locations: [{ id: 'loc-own', name: 'Oakwood Office' }, { ...shared }],
    services: [
      {
        id: 'svc-a',
        name: 'Volunteering drop-in',
        service_at_locations: [{ id: 'x1', location: { ...shared } }],
        attributes: [{ taxonomy_term: { id: 'vol', name: 'Volunteering' } }],
      },
      {
        id: 'svc-b',
        name: 'Digital skills course',
        service_at_locations: [{ id: 'x2', location: { ...shared, name: 'Oakwood CC (renamed)' } }],
        attributes: [{ taxonomy_term: { id: 'dig', name: 'Digital skills' } }],
      },
    ],
  };

  it('maps one location shared by two services once, and links both services to it', () => {
    const feed = mapOpenReferral(organisation);
    expect(feed.refused).toEqual([]);
    expect(feed.records.map((r) => `${r.kind}:${r.orukId}`)).toEqual([
      'organization:org-o',
      'location:loc-own',
      'location:loc-s',
      'service:svc-a',
      'service:svc-b',
    ]);
    const { locations, services } = byKind(feed);
    // The first copy wins: the organisation's own list named it first.
    expect(locations.map((l) => l.name)).toEqual(['Oakwood Office', 'Oakwood Community Centre']);
    expect(locations.map((l) => l.managingOrganization)).toEqual([
      orgRef('org-o', 'Oakwood Volunteer Centre'),
      orgRef('org-o', 'Oakwood Volunteer Centre'),
    ]);
    for (const service of services) {
      expect(service.providedBy).toEqual(orgRef('org-o', 'Oakwood Volunteer Centre'));
      expect(service.location).toEqual([locRef('loc-s', 'Oakwood Community Centre')]);
    }
    expect(services.map((s) => s.category?.[0]?.coding?.[0]?.code)).toEqual([
      'volunteering',
      'learning-and-skills',
    ]);
  });

  it('keeps the first copy of an organisation met under several services, refusing none', () => {
    const feed = mapOpenReferral([
      v1Service(),
      v1Service({ id: 'svc-2', organization: { id: 'org-1', name: 'Riverside Trust (old name)' } }),
    ]);
    expect(feed.refused).toEqual([]);
    const { organizations, services } = byKind(feed);
    expect(organizations.map((o) => o.name)).toEqual(['Riverside Community Trust']);
    expect(services.map((s) => s.providedBy?.display)).toEqual([
      'Riverside Community Trust',
      'Riverside Community Trust',
    ]);
  });

  it('sets managingOrganization from a location that names its organization_id', () => {
    const feed = mapOpenReferral({
      id: 's',
      name: 'Choir',
      service_at_locations: [{ location: { id: 'l', name: 'Hall', organization_id: 'org-owner' } }],
    });
    expect(byKind(feed).locations[0]?.managingOrganization).toEqual(orgRef('org-owner'));
  });

  it('maps the services of an organisation that is refused, without providedBy', () => {
    const feed = mapOpenReferral({ ...organisation, name: ' ' });
    expect(feed.refused).toEqual([{ kind: 'organization', orukId: 'org-o', index: '$', reason: 'no name' }]);
    const { organizations, locations, services } = byKind(feed);
    expect(organizations).toEqual([]);
    expect(locations.map((l) => l.managingOrganization)).toEqual([undefined, undefined]);
    expect(services.map((s) => s.providedBy)).toEqual([undefined, undefined]);
  });
});

describe('mapOpenReferral: refusals, one record at a time', () => {
  it('refuses malformed records with their ids and reasons while the rest map', () => {
    const long = (n: number) => 'x'.repeat(n);
    const feed = mapOpenReferral({
      total_items: 12,
      total_pages: 1,
      page_number: 1,
      size: 12,
      contents: [
        v1Service(),
        { name: 'No id' },
        { id: '   ', name: 'Blank id' },
        { id: 'blank-name', name: '   ' },
        { id: 'no-name' },
        { id: long(201), name: 'Long id' },
        { id: { nested: true }, name: 'Object id' },
        { id: 'long-name', name: long(501) },
        { id: 'long-description', name: 'Long description', description: long(10_001) },
        v1Service({
          id: 'bad-places',
          organization: { id: 'org-no-name', email: 'a@example.org' },
          service_at_locations: [
            { location: { id: 'lat-text', name: 'A', latitude: 'north', longitude: -1 } },
            { location: { id: 'lat-91', name: 'B', latitude: 91, longitude: -1 } },
            { location: { id: 'lng-181', name: 'C', latitude: '51', longitude: '181' } },
            { location: { id: 'lat-only', name: 'D', latitude: 51 } },
            { location: { id: 'good', name: 'E', latitude: 51, longitude: -1 } },
          ],
        }),
        'a string',
        { id: 12345, name: 'Numeric id', email: '', url: null },
      ],
    });
    expect(feed.refused).toEqual([
      { kind: 'service', index: 'contents[1]', reason: 'no id' },
      { kind: 'service', index: 'contents[2]', reason: 'no id' },
      { kind: 'service', orukId: 'blank-name', index: 'contents[3]', reason: 'no name' },
      { kind: 'service', orukId: 'no-name', index: 'contents[4]', reason: 'no name' },
      { kind: 'service', index: 'contents[5]', reason: 'id too long' },
      { kind: 'service', index: 'contents[6]', reason: 'id not a string or number' },
      { kind: 'service', orukId: 'long-name', index: 'contents[7]', reason: 'name too long' },
      { kind: 'service', orukId: 'long-description', index: 'contents[8]', reason: 'description too long' },
      { kind: 'organization', orukId: 'org-no-name', index: 'contents[9].organization', reason: 'no name' },
      {
        kind: 'location',
        orukId: 'lat-text',
        index: 'contents[9].service_at_locations[0].location',
        reason: REFUSAL.coordinatesOutOfRange,
      },
      {
        kind: 'location',
        orukId: 'lat-91',
        index: 'contents[9].service_at_locations[1].location',
        reason: REFUSAL.coordinatesOutOfRange,
      },
      {
        kind: 'location',
        orukId: 'lng-181',
        index: 'contents[9].service_at_locations[2].location',
        reason: REFUSAL.coordinatesOutOfRange,
      },
      {
        kind: 'location',
        orukId: 'lat-only',
        index: 'contents[9].service_at_locations[3].location',
        reason: REFUSAL.coordinatesIncomplete,
      },
      { kind: 'service', index: 'contents[10]', reason: 'not an object' },
    ]);
    expect(feed.records.map((r) => `${r.kind}:${r.orukId}`)).toEqual([
      'organization:org-1',
      'location:loc-1',
      'location:good',
      'service:svc-1',
      'service:bad-places',
      'service:12345',
    ]);
    const { services } = byKind(feed);
    const badPlaces = services.find((s) => s.identifier?.[0]?.value === 'bad-places');
    expect(badPlaces?.providedBy).toBeUndefined();
    expect(badPlaces?.location).toEqual([locRef('good', 'E')]);
    expect(services.at(-1)).toEqual({
      resourceType: 'HealthcareService',
      identifier: [{ system: DIRECTORY_SYSTEM.orukService, value: '12345' }],
      active: true,
      name: 'Numeric id',
    });
  });

  it.each([
    ['email', { email: `${'x'.repeat(2_040)}@example.org` }],
    ['url', { url: `https://example.org/${'x'.repeat(2_040)}` }],
    ['phone', { phones: [{ number: '0'.repeat(2_049) }] }],
    ['taxonomy term', { attributes: [{ taxonomy_term: { id: 't', name: 'x'.repeat(2_049) } }] }],
  ])('refuses a service whose %s is too long rather than cutting it', (label, extra) => {
    const feed = mapOpenReferral({ id: 's', name: 'Service', ...extra });
    expect(feed.records).toEqual([]);
    expect(feed.refused).toEqual([{ kind: 'service', orukId: 's', index: '$', reason: `${label} too long` }]);
  });

  it('refuses the same bad location once however often it is met', () => {
    const bad = { id: 'far', name: 'Far away', latitude: 100, longitude: 101 };
    const feed = mapOpenReferral([
      { id: 'a', name: 'A', service_at_locations: [{ location: bad }] },
      { id: 'b', name: 'B', service_at_locations: [{ location: bad }] },
    ]);
    expect(feed.refused).toEqual([
      {
        kind: 'location',
        orukId: 'far',
        index: '[0].service_at_locations[0].location',
        reason: 'coordinates out of range',
      },
    ]);
    expect(byKind(feed).services.map((s) => s.location)).toEqual([undefined, undefined]);
  });

  it.each([
    ['a number', 42],
    ['a string', 'services'],
    ['null', null],
    ['undefined', undefined],
    ['true', true],
    ['an empty object', {}],
    ['an object with unknown keys', { foo: 1, bar: [2] }],
    ['a FHIR resource', { resourceType: 'Bundle', id: 'b', type: 'collection' }],
  ])('refuses %s as a whole input', (_, input) => {
    expect(mapOpenReferral(input)).toEqual({
      records: [],
      refused: [
        { kind: 'input', index: '$', reason: 'not an Open Referral service, organisation or list page' },
      ],
    });
  });

  it('maps an empty array or page to nothing, refusing nothing', () => {
    expect(mapOpenReferral([])).toEqual({ records: [], refused: [] });
    expect(mapOpenReferral({ total_items: 0, contents: [] })).toEqual({ records: [], refused: [] });
  });

  it('refuses each non-object in an array by its position', () => {
    expect(mapOpenReferral([1, null]).refused).toEqual([
      { kind: 'service', index: '[0]', reason: 'not an object' },
      { kind: 'service', index: '[1]', reason: 'not an object' },
    ]);
  });

  it('skips fields of the wrong type without throwing', () => {
    const feed = mapOpenReferral({
      id: 's',
      name: 'Odd feed',
      description: 42,
      email: ['a@example.org'],
      phones: { number: '01632 960002' },
      contacts: 'none',
      service_at_locations: ['x', null, { location: 'y' }, { location_id: { id: 1 } }],
      service_taxonomys: [null, { taxonomy: 'walking' }, { taxonomy: { name: 'No code' } }],
      attributes: [{ taxonomy_term: null }],
      organization: 'Riverside',
      status: 7,
    });
    expect(feed).toEqual({
      records: [
        {
          kind: 'service',
          orukId: 's',
          resource: {
            resourceType: 'HealthcareService',
            identifier: [{ system: DIRECTORY_SYSTEM.orukService, value: 's' }],
            active: true,
            name: 'Odd feed',
          },
        },
      ],
      refused: [],
    });
  });
});

describe('mapOpenReferral: coordinates', () => {
  const located = (latitude: unknown, longitude: unknown) =>
    mapOpenReferral({
      id: 's',
      name: 'S',
      service_at_locations: [{ location: { id: 'l', name: 'L', latitude, longitude } }],
    });

  it.each([
    ['51.5', '-0.12', { latitude: 51.5, longitude: -0.12 }],
    [' 51.5 ', ' -0.12 ', { latitude: 51.5, longitude: -0.12 }],
    ['+51', '.5', { latitude: 51, longitude: 0.5 }],
    [-90, 180, { latitude: -90, longitude: 180 }],
    [51.5, '-0.12', { latitude: 51.5, longitude: -0.12 }],
  ])('accepts %j, %j', (latitude, longitude, position) => {
    const feed = located(latitude, longitude);
    expect(feed.refused).toEqual([]);
    expect(byKind(feed).locations[0]?.position).toEqual(position);
  });

  it.each([
    [null, null],
    ['', ''],
    [undefined, undefined],
    [0, 0],
    ['0', '0.0'],
  ])('stores no position for %j, %j (absent, or the 0,0 placeholder)', (latitude, longitude) => {
    const feed = located(latitude, longitude);
    expect(feed.refused).toEqual([]);
    expect(byKind(feed).locations[0]).not.toHaveProperty('position');
  });

  it.each([
    ['51.5N', '0.12W'],
    ['1e1', '1'],
    [true, false],
    [[51], [0]],
    [-90.0001, 0],
    [0, 180.5],
  ])('refuses %j, %j as out of range', (latitude, longitude) => {
    expect(located(latitude, longitude).refused).toEqual([
      {
        kind: 'location',
        orukId: 'l',
        index: 'service_at_locations[0].location',
        reason: 'coordinates out of range',
      },
    ]);
  });
});
