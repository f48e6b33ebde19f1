import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HealthcareService, Organization } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { profileErrors } from '../../src/fhir/profiles.ts';
import { DIRECTORY_SYSTEM } from '../../src/fhir/systems.ts';
import { validateBaseR4 } from '../../src/fhir/validate.ts';
import { mapOpenReferral } from '../../src/mapping/open-referral.ts';
import { THIRD_PARTY_ABSENT, THIRD_PARTY_DIR } from '../support/referrals.ts';

/** The published ORUK / HSDS 3 examples in ../shared (a clone of this project alone has none). */
const DIR = join(THIRD_PARTY_DIR, 'open-referral');
const ABSENT = existsSync(DIR) ? undefined : (THIRD_PARTY_ABSENT ?? `skipped: ${DIR} is absent`);
if (ABSENT) console.warn(`published Open Referral examples: ${ABSENT}`);

const read = (file: string): unknown => JSON.parse(readFileSync(join(DIR, file), 'utf8'));

const ORG_ID = 'd9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610';
const SERVICE_ID = 'ac148810-d857-441c-9679-408f346de14b';
const LOCATION_ID = '3a19ff88-4620-4d17-9830-ac1d859eb5d5';
/** The examples' service description, trimmed (the published text ends in a space). */
const DESCRIPTION = [
  'Counselling Services provided by trained professionals.',
  'Suitable for people with mental health conditions such as anxiety, depression, or eating disorders',
  'as well as people experiencing difficult life events and circumstances.',
].join(' ');

/** Where each example puts its one location (at latitude 100, longitude 101), if it has one. */
const EXAMPLES: Record<string, { locationAt?: string; companyNumber: boolean; termCode?: string }> = {
  'hsds-3-spec-service-at-location-list-page.json': {
    locationAt: 'contents[0].location',
    companyNumber: false,
  },
  'hsds-3-spec-service-full.json': {
    locationAt: 'organization.locations[0]',
    companyNumber: true,
    termCode: 'code',
  },
  'oruk-v3-ukprofile-organization-full.json': {
    locationAt: 'services[0].service_at_locations[0].location',
    companyNumber: true,
    termCode: '3f7b145d-84af-42d7-8fae-eaca714b02b2',
  },
  'oruk-v3-ukprofile-service-at-location-full.json': {
    locationAt: 'location',
    companyNumber: true,
    termCode: '3f7b145d-84af-42d7-8fae-eaca714b02b2',
  },
  'oruk-v3-ukprofile-service-full.json': {
    locationAt: 'service_at_locations[0].location',
    companyNumber: true,
    termCode: '3f7b145d-84af-42d7-8fae-eaca714b02b2',
  },
  'oruk-v3-ukprofile-service-list-page.json': { companyNumber: false },
};

describe.skipIf(ABSENT)(`published Open Referral examples${ABSENT ? ` (${ABSENT})` : ''}`, () => {
  const files = ABSENT ? [] : readdirSync(DIR).filter((file) => file.endsWith('.json'));

  beforeAll(() => indexDefinitions());

  it('knows every JSON example in the folder', () => {
    expect(files.sort()).toEqual(Object.keys(EXAMPLES).sort());
  });

  it.each(Object.entries(EXAMPLES))(
    '%s: one organisation and one service; the location refused',
    (file, expected) => {
      const feed = mapOpenReferral(read(file));
      expect(feed.records.map((r) => [r.kind, r.orukId])).toEqual([
        ['organization', ORG_ID],
        ['service', SERVICE_ID],
      ]);
      expect(feed.refused).toEqual(
        expected.locationAt
          ? [
              {
                kind: 'location',
                orukId: LOCATION_ID,
                index: expected.locationAt,
                reason: 'coordinates out of range',
              },
            ]
          : [],
      );

      const organization = feed.records[0]?.resource as Organization;
      expect(organization).toMatchObject({
        resourceType: 'Organization',
        active: true,
        name: 'Example Organization Inc.',
      });
      expect(organization.identifier).toEqual([
        { system: DIRECTORY_SYSTEM.orukOrganization, value: ORG_ID },
        ...(expected.companyNumber ? [{ system: DIRECTORY_SYSTEM.companyNumber, value: '1234567' }] : []),
      ]);
      expect(organization.telecom).toEqual(
        expect.arrayContaining([
          { system: 'email', value: 'email@example.com' },
          { system: 'url', value: 'http://example.com' },
        ]),
      );

      const service = feed.records[1]?.resource as HealthcareService;
      expect(service).toMatchObject({
        resourceType: 'HealthcareService',
        identifier: [{ system: DIRECTORY_SYSTEM.orukService, value: SERVICE_ID }],
        active: true,
        name: 'Community Counselling',
        comment: DESCRIPTION,
        providedBy: {
          type: 'Organization',
          identifier: { system: DIRECTORY_SYSTEM.orukOrganization, value: ORG_ID },
          display: 'Example Organization Inc.',
        },
      });
      expect(service.telecom).toEqual(
        expect.arrayContaining([
          { system: 'email', value: 'email@example.com' },
          { system: 'url', value: 'http://example.com/counselling' },
        ]),
      );
      // The location was refused, so nothing points at it; the term "name" names no category.
      expect(service.location).toBeUndefined();
      expect(service.category).toBeUndefined();
      expect(service.type).toEqual(
        expected.termCode
          ? [{ coding: [{ system: 'http://example.com', code: expected.termCode, display: 'name' }] }]
          : undefined,
      );
    },
  );

  it.each(Object.keys(EXAMPLES))('%s: every record is valid R4 and meets the directory profiles', (file) => {
    const { records } = mapOpenReferral(read(file));
    const problems = records.flatMap((r) =>
      [...validateBaseR4(r.resource), ...profileErrors(r.resource, [])].map(
        (i) => `${r.kind}: ${i.expression}`,
      ),
    );
    expect(problems).toEqual([]);
  });

  it('maps the full HSDS 3 service field by field', () => {
    const [organization, service] = mapOpenReferral(read('hsds-3-spec-service-full.json')).records.map(
      (r) => r.resource,
    );
    expect(organization).toEqual({
      resourceType: 'Organization',
      identifier: [
        { system: DIRECTORY_SYSTEM.orukOrganization, value: ORG_ID },
        { system: DIRECTORY_SYSTEM.companyNumber, value: '1234567' },
      ],
      active: true,
      name: 'Example Organization Inc.',
      alias: ['Example Org'],
      telecom: [
        { system: 'phone', value: '+44 1234 234567' },
        { system: 'email', value: 'email@example.com' },
        { system: 'url', value: 'http://example.com' },
      ],
    });
    expect(service).toEqual({
      resourceType: 'HealthcareService',
      identifier: [{ system: DIRECTORY_SYSTEM.orukService, value: SERVICE_ID }],
      active: true,
      type: [{ coding: [{ system: 'http://example.com', code: 'code', display: 'name' }] }],
      name: 'Community Counselling',
      comment: DESCRIPTION,
      telecom: [
        { system: 'phone', value: '+44 1234 234567' },
        { system: 'email', value: 'email@example.com' },
        { system: 'url', value: 'http://example.com/counselling' },
      ],
      providedBy: {
        type: 'Organization',
        identifier: { system: DIRECTORY_SYSTEM.orukOrganization, value: ORG_ID },
        display: 'Example Organization Inc.',
      },
    });
  });

  it('maps the example location once its coordinates are in range', () => {
    const example = read('oruk-v3-ukprofile-service-at-location-full.json') as {
      location: Record<string, unknown>;
    };
    const feed = mapOpenReferral({
      ...example,
      location: { ...example.location, latitude: 52.2, longitude: 0.12 },
    });
    expect(feed.refused).toEqual([]);
    expect(feed.records.map((r) => r.kind)).toEqual(['organization', 'location', 'service']);
    expect(feed.records[1]?.resource).toEqual({
      resourceType: 'Location',
      identifier: [
        { system: DIRECTORY_SYSTEM.orukLocation, value: LOCATION_ID },
        { system: DIRECTORY_SYSTEM.uprn, value: '10092008082' },
      ],
      status: 'active',
      name: 'MyCity Civic Center',
      description: expect.stringMatching(/^MyCity Civic Center is located on Main Street/),
      address: {
        type: 'postal',
        line: ['1-30 Main Street'],
        city: 'MyCity',
        district: 'MyRegion',
        postalCode: 'ABC 1234',
        country: 'US',
      },
      position: { latitude: 52.2, longitude: 0.12 },
    });
    expect((feed.records[2]?.resource as HealthcareService | undefined)?.location).toEqual([
      {
        type: 'Location',
        identifier: { system: DIRECTORY_SYSTEM.orukLocation, value: LOCATION_ID },
        display: 'MyCity Civic Center',
      },
    ]);
  });
});
