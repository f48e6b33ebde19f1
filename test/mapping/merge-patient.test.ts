import type { Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { mergePatient } from '../../src/mapping/merge-patient.ts';

const NHS = { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000018' };

/** The stored record: identified, but with no demographics yet. */
const bare = (): Patient => ({
  resourceType: 'Patient',
  id: 'p1',
  meta: { versionId: '3', lastUpdated: '2026-11-01T10:00:00.000Z' },
  identifier: [NHS],
});

/** Every demographic the merge may fill in, as a referral would send them. */
const DEMOGRAPHICS = {
  name: [{ use: 'official', family: 'Okafor', given: ['Grace'] }],
  birthDate: '1948-03-02',
  gender: 'female',
  address: [{ line: ['12 Mill Lane'], city: 'Riverside', postalCode: 'ZZ1 1ZZ' }],
  telecom: [{ system: 'phone', value: '01632 960001', use: 'home' }],
  generalPractitioner: [{ reference: 'Organization/practice' }],
  managingOrganization: { reference: 'Organization/practice' },
} satisfies Partial<Patient>;

/** Stored values that differ from DEMOGRAPHICS in every element. */
const OTHER = {
  name: [{ use: 'official', family: 'Okafor-Smith', given: ['Grace'] }],
  birthDate: '1948-03-03',
  gender: 'other',
  address: [{ line: ['3 New Road'], city: 'Riverside', postalCode: 'ZZ1 9ZZ' }],
  telecom: [{ system: 'phone', value: '01632 960999', use: 'mobile' }],
  generalPractitioner: [{ reference: 'Organization/other-practice' }],
  managingOrganization: { reference: 'Organization/other-practice' },
} satisfies Partial<Patient>;

const FILLABLE = Object.keys(DEMOGRAPHICS) as (keyof typeof DEMOGRAPHICS)[];

const incoming = (extra: Partial<Patient> = {}): Patient => ({
  resourceType: 'Patient',
  identifier: [NHS],
  ...structuredClone(DEMOGRAPHICS),
  ...extra,
});

describe('mergePatient', () => {
  it('fills in every missing demographic and reports no difference', () => {
    const { updated, differing } = mergePatient(bare(), incoming());
    expect(updated).toEqual({ ...bare(), ...DEMOGRAPHICS });
    expect(differing).toEqual([]);
  });

  it.each(FILLABLE)('fills in %s alone when only it is missing', (key) => {
    const stored = { ...bare(), ...structuredClone(DEMOGRAPHICS) };
    delete stored[key];
    const { updated, differing } = mergePatient(stored, incoming());
    expect(updated).toEqual({ ...bare(), ...DEMOGRAPHICS });
    expect(differing).toEqual([]);
  });

  it('asks for no update when the referral says the same as the stored record', () => {
    const stored = { ...bare(), ...structuredClone(DEMOGRAPHICS) };
    expect(mergePatient(stored, incoming())).toEqual({ updated: undefined, differing: [] });
  });

  it('asks for no update when both sides are identical, ids and all', () => {
    const patient = { ...bare(), ...structuredClone(DEMOGRAPHICS) };
    expect(mergePatient(patient, structuredClone(patient))).toEqual({ updated: undefined, differing: [] });
  });

  it('asks for no update when the referral carries no demographics', () => {
    const stored = { ...bare(), ...structuredClone(DEMOGRAPHICS) };
    expect(mergePatient(stored, { resourceType: 'Patient', identifier: [NHS] })).toEqual({
      updated: undefined,
      differing: [],
    });
    expect(mergePatient(bare(), { resourceType: 'Patient' })).toEqual({ updated: undefined, differing: [] });
  });

  it('keeps every stored value that differs and reports each, in a fixed order', () => {
    const stored = { ...bare(), ...structuredClone(OTHER) };
    const { updated, differing } = mergePatient(stored, incoming());
    expect(updated).toBeUndefined();
    expect(differing).toEqual([
      'name',
      'birthDate',
      'gender',
      'address',
      'telecom',
      'generalPractitioner',
      'managingOrganization',
    ]);
  });

  it.each(FILLABLE)('keeps and reports a stored %s that differs', (key) => {
    const stored = { ...bare(), ...structuredClone(DEMOGRAPHICS), [key]: structuredClone(OTHER[key]) };
    const { updated, differing } = mergePatient(stored, incoming());
    expect(updated).toBeUndefined();
    expect(differing).toEqual([key]);
    expect(stored[key]).toEqual(OTHER[key]);
  });

  it('adds what is missing while keeping and reporting what differs', () => {
    const stored: Patient = {
      ...bare(),
      birthDate: OTHER.birthDate,
      telecom: structuredClone(OTHER.telecom),
    };
    const { updated, differing } = mergePatient(stored, incoming());
    expect(updated).toEqual({
      ...bare(),
      ...DEMOGRAPHICS,
      birthDate: OTHER.birthDate,
      telecom: OTHER.telecom,
    });
    expect(differing).toEqual(['birthDate', 'telecom']);
  });

  it('reports a list that differs only in length or order', () => {
    const stored: Patient = {
      ...bare(),
      ...structuredClone(DEMOGRAPHICS),
      name: [...structuredClone(DEMOGRAPHICS.name), { use: 'nickname', given: ['Gracie'] }],
      address: [...structuredClone(DEMOGRAPHICS.address), ...structuredClone(OTHER.address)],
    };
    const swapped = incoming({
      address: [...structuredClone(OTHER.address), ...structuredClone(DEMOGRAPHICS.address)],
    });
    expect(mergePatient(stored, swapped).differing).toEqual(['name', 'address']);
  });

  it('never copies or compares elements outside the demographics', () => {
    const stored: Patient = { ...bare(), active: true };
    const sent = incoming({
      id: 'sender-id',
      meta: { versionId: '1' },
      identifier: [NHS, { system: 'https://example.org/mrn', value: 'M1' }],
      active: false,
      deceasedBoolean: true,
      maritalStatus: { text: 'Widowed' },
      communication: [{ language: { text: 'English' } }],
      extension: [{ url: 'https://example.org/x', valueString: 'y' }],
    });
    const { updated, differing } = mergePatient(stored, sent);
    expect(updated).toEqual({ ...bare(), active: true, ...DEMOGRAPHICS });
    expect(differing).toEqual([]);
  });

  it('changes neither argument', () => {
    const stored: Patient = { ...bare(), gender: 'other' };
    const sent = incoming();
    const storedBefore = structuredClone(stored);
    const sentBefore = structuredClone(sent);
    const { updated } = mergePatient(stored, sent);
    expect(updated).not.toBe(stored);
    expect(stored).toEqual(storedBefore);
    expect(sent).toEqual(sentBefore);
  });

  it('keeps the stored id and version, so the update is made against them', () => {
    const { updated } = mergePatient(bare(), incoming({ id: 'sender-id', meta: { versionId: '1' } }));
    expect(updated?.id).toBe('p1');
    expect(updated?.meta).toEqual({ versionId: '3', lastUpdated: '2026-11-01T10:00:00.000Z' });
  });
});
