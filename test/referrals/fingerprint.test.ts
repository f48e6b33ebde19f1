import { readFileSync } from 'node:fs';
import type { Bundle, Consent, Patient, ServiceRequest } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { fingerprintReferral } from '../../src/referrals/fingerprint.ts';
import { type ReferralBundle, readReferralBundle } from '../../src/referrals/referral-bundle.ts';

// readReferralBundle validates against base R4, which needs the definitions indexed.
beforeAll(() => indexDefinitions());

const EXAMPLE_TEXT = readFileSync(
  new URL('../../examples/referrals/01-gp-transaction-bundle.200.request.json', import.meta.url),
  'utf8',
);

/** A fresh copy of the example referral's Bundle, for each test to change. */
const example = (): Bundle => JSON.parse(EXAMPLE_TEXT).body as Bundle;

function referralOf(body: unknown): ReferralBundle {
  const { referral, issues } = readReferralBundle(body);
  // Each variant must still be a well-formed referral, or the comparison would mean nothing.
  expect(issues).toEqual([]);
  if (!referral) throw new Error('no referral read');
  return referral;
}

const fingerprintOf = (body: unknown) => fingerprintReferral(referralOf(body));

/** The resource of the first entry of this type. */
function first<T>(bundle: Bundle, type: string): T {
  const entry = bundle.entry?.find((e) => e.resource?.resourceType === type);
  if (!entry?.resource) throw new Error(`no ${type}`);
  return entry.resource as T;
}

/** Every object's keys in reverse order, everything else the same. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reverseKeys(v)]),
    );
  }
  return value;
}

/** The same Bundle with every urn:uuid replaced consistently by another. */
function renameUuids(bundle: Bundle): Bundle {
  const text = JSON.stringify(bundle).replaceAll(
    '6a1f0c3e-0000-4000-8000-0000000000',
    'f00dfeed-1111-4222-9333-4444444444',
  );
  return JSON.parse(text) as Bundle;
}

let baseline: string;
beforeAll(async () => {
  baseline = await fingerprintOf(example());
});

describe('fingerprintReferral', () => {
  it('is a SHA-256 digest in lower-case hex', () => {
    expect(baseline).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives the same referral the same fingerprint', async () => {
    expect(await fingerprintOf(example())).toBe(baseline);
    const referral = referralOf(example());
    expect(await fingerprintReferral(referral)).toBe(await fingerprintReferral(referral));
  });

  it('leaves the referral it reads unchanged', async () => {
    const referral = referralOf(example());
    const before = structuredClone(referral.entries.map((e) => e.resource));
    await fingerprintReferral(referral);
    // The urn:uuid references are still needed to write the referral afterwards.
    expect(referral.entries.map((e) => e.resource)).toEqual(before);
  });

  it('ignores how the JSON text was laid out', async () => {
    const minified = JSON.parse(JSON.stringify(JSON.parse(EXAMPLE_TEXT))).body;
    const spread = JSON.parse(JSON.stringify(JSON.parse(EXAMPLE_TEXT), null, 8)).body;
    expect(await fingerprintOf(minified)).toBe(baseline);
    expect(await fingerprintOf(spread)).toBe(baseline);
  });

  it('ignores the order of keys in every object', async () => {
    const reversed = reverseKeys(example()) as Bundle;
    expect(Object.keys(first<ServiceRequest>(reversed, 'ServiceRequest'))[0]).not.toBe('resourceType');
    expect(await fingerprintOf(reversed)).toBe(baseline);
  });

  it('ignores which urn:uuids the sender chose', async () => {
    const renamed = renameUuids(example());
    expect(renamed.entry?.[0]?.fullUrl).toBe('urn:uuid:f00dfeed-1111-4222-9333-444444444401');
    expect(await fingerprintOf(renamed)).toBe(baseline);
  });

  it('ignores ids, meta and narrative', async () => {
    const bundle = example();
    for (const [i, entry] of (bundle.entry ?? []).entries()) {
      Object.assign(entry.resource as object, {
        id: `sender-${i}`,
        meta: { versionId: '7', lastUpdated: '2026-11-18T10:20:00Z', tag: [{ code: 'x' }] },
        text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">Entry ${i}</div>` },
      });
    }
    expect(await fingerprintOf(bundle)).toBe(baseline);
  });

  it('ignores the entries’ request details other than the resources', async () => {
    const bundle = example();
    for (const entry of bundle.entry ?? []) entry.request = { method: 'POST', url: 'Anything' };
    expect(await fingerprintOf(bundle)).toBe(baseline);
  });

  it('ignores elements set to undefined', async () => {
    const referral = referralOf(example());
    Object.assign(referral.serviceRequest.resource, { priority: 'routine', occurrenceDateTime: undefined });
    expect(await fingerprintReferral(referral)).toBe(baseline);
  });

  it('compares values verbatim, so changed whitespace inside a value is a different referral', async () => {
    const bundle = example();
    const sr = first<ServiceRequest>(bundle, 'ServiceRequest');
    const note = sr.note?.[0];
    if (!note) throw new Error('the example has a note');
    note.text = `${note.text} `;
    expect(await fingerprintOf(bundle)).not.toBe(baseline);
  });

  const CLINICAL_CHANGES: [string, (bundle: Bundle) => void][] = [
    [
      'a reason code',
      (b) => {
        const coding = first<ServiceRequest>(b, 'ServiceRequest').reasonCode?.[1]?.coding?.[0];
        if (coding) coding.code = '160903007';
      },
    ],
    [
      'one reason fewer',
      (b) => {
        first<ServiceRequest>(b, 'ServiceRequest').reasonCode?.pop();
      },
    ],
    [
      'the order of the reasons',
      (b) => {
        first<ServiceRequest>(b, 'ServiceRequest').reasonCode?.reverse();
      },
    ],
    [
      'the priority',
      (b) => {
        first<ServiceRequest>(b, 'ServiceRequest').priority = 'urgent';
      },
    ],
    [
      'the authored time',
      (b) => {
        first<ServiceRequest>(b, 'ServiceRequest').authoredOn = '2026-11-18T10:21:00Z';
      },
    ],
    [
      'the note',
      (b) => {
        const note = first<ServiceRequest>(b, 'ServiceRequest').note?.[0];
        if (note) note.text = 'Would like to join a walking group.';
      },
    ],
    [
      'the referral identifier',
      (b) => {
        const identifier = first<ServiceRequest>(b, 'ServiceRequest').identifier?.[0];
        if (identifier) identifier.value = 'RMP-2026-000102';
      },
    ],
    [
      'the receiving service (performer points at the practice instead)',
      (b) => {
        const performer = first<ServiceRequest>(b, 'ServiceRequest').performer?.[0];
        if (performer) performer.reference = 'urn:uuid:6a1f0c3e-0000-4000-8000-000000000004';
      },
    ],
    [
      'the patient’s birth date',
      (b) => {
        first<Patient>(b, 'Patient').birthDate = '1948-03-03';
      },
    ],
    [
      'the patient’s gender',
      (b) => {
        first<Patient>(b, 'Patient').gender = 'other';
      },
    ],
    [
      'the patient’s NHS number',
      (b) => {
        const identifier = first<Patient>(b, 'Patient').identifier?.[0];
        if (identifier) identifier.value = '9990000026';
      },
    ],
    [
      'the patient’s address',
      (b) => {
        const address = first<Patient>(b, 'Patient').address?.[0];
        if (address) address.postalCode = 'ZZ1 1ZY';
      },
    ],
    [
      'the consent decision',
      (b) => {
        const consent = first<Consent>(b, 'Consent');
        if (consent.provision) consent.provision.type = 'deny';
      },
    ],
    [
      'the order of the entries',
      (b) => {
        // Entries are compared in the order sent: the two Organizations swap places.
        const entries = b.entry ?? [];
        [entries[3], entries[4]] = [entries[4] as never, entries[3] as never];
      },
    ],
    [
      'a reference to something outside the Bundle',
      (b) => {
        const patient = first<Patient>(b, 'Patient');
        patient.generalPractitioner = [{ reference: 'Organization/stored-practice' }];
      },
    ],
  ];

  it.each(CLINICAL_CHANGES)('gives a different fingerprint when %s changes', async (_, change) => {
    const bundle = example();
    change(bundle);
    expect(await fingerprintOf(bundle)).not.toBe(baseline);
  });

  it('keeps references to something outside the Bundle verbatim', async () => {
    const to = async (reference: string) => {
      const bundle = example();
      first<Patient>(bundle, 'Patient').generalPractitioner = [{ reference }];
      return fingerprintOf(bundle);
    };
    const a = await to('Organization/practice-a');
    expect(await to('Organization/practice-a')).toBe(a);
    expect(await to('Organization/practice-b')).not.toBe(a);
  });

  it('tells apart references to two different entries of the same type', async () => {
    // The practice and the service are both Organizations; each keeps its own ordinal.
    const bundle = example();
    first<Patient>(bundle, 'Patient').generalPractitioner = [
      { reference: 'urn:uuid:6a1f0c3e-0000-4000-8000-000000000005' },
    ];
    expect(await fingerprintOf(bundle)).not.toBe(baseline);
  });
});
