/**
 * Synthetic Open Referral UK services for benchmarks, import trials and tests. Deterministic for a
 * given seed: alternating at random between the ORUK v1 API shape and the HSDS 3 / ORUK 3 UK
 * profile shape, spread over England (latitude 50.0–55.5, longitude -5.5–1.7), about one
 * organisation per five services, locations shared between services, and a few taxonomy terms each.
 * Phone numbers are from Ofcom's ranges kept for drama; web and email addresses are under example.org.
 */

type Json = Record<string, unknown>;

/** Mulberry32: a small seeded generator, so the same seed gives the same feed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const TOWNS = [
  ['Riverside', 'Lancashire'],
  ['Millbrook', 'Devon'],
  ['Ashford Vale', 'Kent'],
  ['Northgate', 'Tyne and Wear'],
  ['Kingsmead', 'West Yorkshire'],
  ['Elmfield', 'Norfolk'],
  ['Harbourside', 'Cornwall'],
  ['Oakwood', 'West Midlands'],
] as const;
const STREETS = ['High Street', 'Mill Lane', 'Church Road', 'Station Road', 'Park Avenue', 'Market Place'];
const PLACES = [
  'Community Centre',
  'Library',
  'Village Hall',
  'Methodist Hall',
  'Leisure Centre',
  'Allotments',
];
const ORGANISATION_KINDS = ['Community Trust', 'Mind', 'Age Concern', 'Carers Network', 'Volunteer Centre'];
const POSTCODE_AREAS = ['LA', 'EX', 'TN', 'NE', 'LS', 'NR', 'TR', 'B'];
const INWARD_LETTERS = ['AB', 'DE', 'HJ', 'NP', 'UW'];
const DRAMA_PHONES = ['01632 960', '0113 496 0', '0161 496 0', '020 7946 0'];

/** Local taxonomy terms: code and name (most fall in one of the activity categories, one in none). */
const TERMS = [
  ['walking', 'Walking groups'],
  ['exercise', 'Exercise classes'],
  ['gardening', 'Community gardening'],
  ['arts', 'Arts and crafts'],
  ['choir', 'Community choir'],
  ['befriending', 'Befriending'],
  ['lunch-club', 'Lunch clubs'],
  ['volunteering', 'Volunteering opportunities'],
  ['digital-skills', 'Digital skills courses'],
  ['employment', 'Employment support'],
  ['debt', 'Debt advice'],
  ['benefits', 'Benefits advice'],
  ['housing', 'Housing advice'],
  ['carers', 'Carers support'],
  ['wellbeing', 'Mental wellbeing groups'],
  ['healthy-eating', 'Healthy eating'],
  ['food-bank', 'Food bank'],
  ['transport', 'Community transport'],
  ['families', 'Children and families'],
] as const;
const VOCABULARY = 'Local activity types';
const TERM_BASE = 'https://directory.example.org/taxonomy/local-activity-types';

/** Generates `count` services (plain JSON, as a feed would publish them), the same for the same seed. */
export function generateOpenReferralServices(count: number, seed = 1): Json[] {
  const rng = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rng() * 10)).join('');
  const uuid = () => {
    const hex = Array.from({ length: 32 }, () => Math.floor(rng() * 16).toString(16)).join('');
    const variant = pick(['8', '9', 'a', 'b']);
    const [a, b, c, d, e] = [
      hex.slice(0, 8),
      hex.slice(8, 12),
      hex.slice(13, 16),
      hex.slice(17, 20),
      hex.slice(20),
    ];
    return `${a}-${b}-4${c}-${variant}${d}-${e}`;
  };
  const phone = () => `${pick(DRAMA_PHONES)}${digits(3)}`;

  const organisations = Array.from({ length: Math.max(1, Math.ceil(count / 5)) }, (_, k) => {
    const [town] = pick(TOWNS);
    const name = `${town} ${pick(ORGANISATION_KINDS)}`;
    const slug = `${name.toLowerCase().replace(/[^a-z]+/g, '-')}-${k}`;
    return { id: uuid(), name, slug, charity: `1${digits(6)}`, phone: phone() };
  });
  const locations = Array.from({ length: Math.max(1, Math.ceil(count / 3)) }, () => {
    const [town, county] = pick(TOWNS);
    return {
      id: uuid(),
      name: `${town} ${pick(PLACES)}`,
      street: `${1 + Math.floor(rng() * 120)} ${pick(STREETS)}`,
      town,
      county,
      postcode: `${pick(POSTCODE_AREAS)}${1 + Math.floor(rng() * 20)} ${digits(1)}${pick(INWARD_LETTERS)}`,
      latitude: round(50 + rng() * 5.5),
      longitude: round(-5.5 + rng() * 7.2),
    };
  });

  return Array.from({ length: count }, (_, i) => {
    const organisation = organisations[i % organisations.length] as (typeof organisations)[number];
    const at = [pick(locations)];
    const second = pick(locations);
    if (rng() < 0.3 && second !== at[0]) at.push(second);
    const terms = [...new Set(Array.from({ length: 1 + Math.floor(rng() * 3) }, () => pick(TERMS)))];
    const [, firstTerm] = terms[0] as (typeof TERMS)[number];
    const service = {
      id: uuid(),
      name: `${firstTerm} at ${organisation.name}`,
      description: `${firstTerm} run by ${organisation.name}. Open to adults; link worker referrals welcome.`,
      url: `https://${organisation.slug}.example.org/services/${i}`,
      email: `info@${organisation.slug}.example.org`,
      status: rng() < 0.05 ? 'inactive' : 'active',
    };
    return rng() < 0.5
      ? v1Service(service, organisation, at, terms, rng, uuid, phone)
      : hsds3Service(service, organisation, at, terms, uuid, phone);
  });
}

function round(value: number): number {
  return Math.round(value * 100_000) / 100_000;
}

type Organisation = { id: string; name: string; slug: string; charity: string; phone: string };
type Place = {
  id: string;
  name: string;
  street: string;
  town: string;
  county: string;
  postcode: string;
  latitude: number;
  longitude: number;
};
type Term = (typeof TERMS)[number];

/** The ORUK v1 API shape: phones under contacts, physical_addresses, service_taxonomys. */
function v1Service(
  service: Json,
  organisation: Organisation,
  at: Place[],
  terms: Term[],
  rng: () => number,
  uuid: () => string,
  phone: () => string,
): Json {
  return {
    ...service,
    fees: '',
    accreditations: '',
    deliverable_type: 'Advice',
    attending_type: 'Venue',
    attending_access: 'Drop-in',
    organization: {
      id: organisation.id,
      name: organisation.name,
      description: `${organisation.name} supports people across the area.`,
      email: `hello@${organisation.slug}.example.org`,
      url: `https://${organisation.slug}.example.org`,
      logo: '',
    },
    contacts: [{ id: uuid(), name: '', title: 'Enquiries', phones: [{ id: uuid(), number: phone() }] }],
    service_at_locations: at.map((place) => ({
      id: uuid(),
      location: {
        id: place.id,
        name: place.name,
        description: '',
        // Some v1 feeds send coordinates as strings.
        latitude: rng() < 0.2 ? place.latitude.toFixed(5) : place.latitude,
        longitude: rng() < 0.2 ? place.longitude.toFixed(5) : place.longitude,
        physical_addresses: [
          {
            id: uuid(),
            address_1: place.street,
            city: place.town,
            state_province: place.county,
            postal_code: place.postcode,
            country: 'GB',
          },
        ],
      },
      regular_schedule: [],
    })),
    service_taxonomys: terms.map(([code, name]) => ({
      id: uuid(),
      taxonomy: { id: `lat:${code}`, name, vocabulary: VOCABULARY, parent: null },
    })),
  };
}

/** The HSDS 3 / ORUK 3 UK profile shape: phones, addresses, attributes with taxonomy terms. */
function hsds3Service(
  service: Json,
  organisation: Organisation,
  at: Place[],
  terms: Term[],
  uuid: () => string,
  phone: () => string,
): Json {
  return {
    ...service,
    organization_id: organisation.id,
    phones: [{ id: uuid(), number: phone(), type: 'voice' }],
    organization: {
      id: organisation.id,
      name: organisation.name,
      description: `${organisation.name} supports people across the area.`,
      email: `hello@${organisation.slug}.example.org`,
      website: `https://${organisation.slug}.example.org`,
      phones: [{ id: uuid(), number: organisation.phone, type: 'voice' }],
      organization_identifiers: [
        {
          id: uuid(),
          identifier_scheme: 'GB-CHC',
          identifier_type: 'Charity number',
          identifier: organisation.charity,
        },
      ],
    },
    service_at_locations: at.map((place) => ({
      id: uuid(),
      location_id: place.id,
      location: {
        id: place.id,
        location_type: 'physical',
        name: place.name,
        latitude: place.latitude,
        longitude: place.longitude,
        addresses: [
          {
            id: uuid(),
            address_1: place.street,
            city: place.town,
            region: place.county,
            postal_code: place.postcode,
            country: 'GB',
            address_type: 'physical',
          },
        ],
      },
    })),
    attributes: terms.map(([code, name]) => ({
      id: uuid(),
      link_type: 'service',
      taxonomy_term: {
        id: `00000000-0000-4000-8000-${String(TERMS.findIndex(([c]) => c === code)).padStart(12, '0')}`,
        code,
        name,
        taxonomy: VOCABULARY,
        term_uri: `${TERM_BASE}#${code}`,
      },
    })),
  };
}
