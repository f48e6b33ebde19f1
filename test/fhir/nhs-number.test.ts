import type { Patient, ServiceRequest } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import {
  isValidNhsNumber,
  normaliseNhsNumber,
  normaliseOdsCode,
  withNormalisedIdentifiers,
} from '../../src/fhir/nhs-number.ts';
import { SYSTEM } from '../../src/fhir/systems.ts';

/** Modulus 11 over nine digits, written out independently of the module: 11 means 0. */
function modulus11(nineDigits: string): number {
  const sum = [...nineDigits].reduce((acc, digit, i) => acc + (10 - i) * Number(digit), 0);
  return 11 - (sum % 11);
}

describe('isValidNhsNumber', () => {
  it.each(['9990000018', '9000000009', '999 000 0018', '900 000 0009', ' 9990000018 ', '999\t000\t0018'])(
    'accepts %j',
    (value) => {
      expect(isValidNhsNumber(value)).toBe(true);
    },
  );

  it('accepts a number whose computed check is 11, with check digit 0', () => {
    expect(modulus11('100000006')).toBe(11);
    expect(isValidNhsNumber('1000000060')).toBe(true);
    expect(isValidNhsNumber('1000000061')).toBe(false);
  });

  it('refuses every other check digit', () => {
    for (let digit = 0; digit <= 9; digit++) {
      expect(isValidNhsNumber(`999000001${digit}`)).toBe(digit === 8);
    }
  });

  it('refuses numbers whose computed check digit is 10, whatever their last digit', () => {
    const neverIssued: string[] = [];
    for (let n = 100_000_000; neverIssued.length < 5; n++) {
      if (modulus11(String(n)) === 10) neverIssued.push(String(n));
    }
    for (const nine of neverIssued) {
      for (let digit = 0; digit <= 9; digit++) expect(isValidNhsNumber(`${nine}${digit}`)).toBe(false);
    }
    // The "10" must not be read as a check digit of 1 or 0.
    expect(neverIssued[0]).toBe('100000001');
    expect(isValidNhsNumber('1000000010')).toBe(false);
    expect(isValidNhsNumber('1000000011')).toBe(false);
  });

  it.each([
    ['the placeholder', '0000000000'],
    ['a wrong check digit', '9990000019'],
    ['9 digits', '999000001'],
    ['11 digits', '99900000180'],
    ['a valid number with a digit more', '90000000090'],
    ['a letter', '99900000l8'],
    ['letters only', 'abcdefghij'],
    ['hyphens', '999-000-0018'],
    ['dots', '999.000.0018'],
    ['a sign', '+9990000018'],
    ['empty', ''],
    ['spaces only', '   '],
    ['full-width digits', '９９９０００００１８'],
  ])('refuses %s', (_, value) => {
    expect(isValidNhsNumber(value)).toBe(false);
  });
});

describe('normaliseNhsNumber', () => {
  it('removes every kind of space and nothing else', () => {
    expect(normaliseNhsNumber('999 000 0018')).toBe('9990000018');
    expect(normaliseNhsNumber(' 999\t000\u00a00018\n')).toBe('9990000018');
    expect(normaliseNhsNumber('9990000018')).toBe('9990000018');
    expect(normaliseNhsNumber('999-000-0018')).toBe('999-000-0018');
    expect(normaliseNhsNumber('')).toBe('');
  });
});

describe('normaliseOdsCode', () => {
  it('upper-cases and trims, and leaves a code already so alone', () => {
    expect(normaliseOdsCode(' spx01 ')).toBe('SPX01');
    expect(normaliseOdsCode('B99901')).toBe('B99901');
  });

  it('is applied to ODS identifiers under either spelling of the system, and to no other', () => {
    const organization = {
      resourceType: 'Organization',
      identifier: [
        { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'spx01' },
        { system: 'https://fhir.nhs.uk/Id/ods-organisation-code', value: 'b99901 ' },
        { system: 'https://example.org/other', value: 'keep-case' },
      ],
    };
    expect(withNormalisedIdentifiers(organization).identifier.map((i) => i.value)).toEqual([
      'SPX01',
      'B99901',
      'keep-case',
    ]);
  });
});

describe('withNormalisedIdentifiers', () => {
  const OTHER = 'https://example.org/Id/local-number';

  it("normalises a Patient's NHS number identifiers and leaves other systems alone", () => {
    const patient: Patient = {
      resourceType: 'Patient',
      identifier: [
        { system: SYSTEM.nhsNumber, value: '999 000 0018' },
        { system: OTHER, value: '12 34 56' },
        { value: '900 000 0009' },
      ],
      name: [{ family: 'Van Der Berg', given: ['Anne Marie'] }],
    };
    const result = withNormalisedIdentifiers(patient);
    expect(result.identifier).toEqual([
      { system: SYSTEM.nhsNumber, value: '9990000018' },
      { system: OTHER, value: '12 34 56' },
      { value: '900 000 0009' },
    ]);
    expect(result.name).toEqual([{ family: 'Van Der Berg', given: ['Anne Marie'] }]);
  });

  it('normalises NHS numbers in logical references, at any depth', () => {
    const request: ServiceRequest = {
      resourceType: 'ServiceRequest',
      status: 'active',
      intent: 'order',
      subject: { identifier: { system: SYSTEM.nhsNumber, value: '999 000 0018' }, display: 'A B' },
      performer: [{ identifier: { system: SYSTEM.odsOrganization, value: 'B 99901' } }],
      contained: [
        {
          resourceType: 'Patient',
          id: 'p',
          identifier: [{ system: SYSTEM.nhsNumber, value: '900 000 0009' }],
        },
      ],
    };
    const result = withNormalisedIdentifiers(request);
    expect(result.subject).toEqual({
      identifier: { system: SYSTEM.nhsNumber, value: '9990000018' },
      display: 'A B',
    });
    expect(result.performer).toEqual([{ identifier: { system: SYSTEM.odsOrganization, value: 'B 99901' } }]);
    expect(result.contained?.[0]).toMatchObject({
      identifier: [{ system: SYSTEM.nhsNumber, value: '9000000009' }],
    });
  });

  it('does not mutate its input', () => {
    const patient: Patient = {
      resourceType: 'Patient',
      identifier: [{ system: SYSTEM.nhsNumber, value: '999 000 0018' }],
    };
    const before = structuredClone(patient);
    const result = withNormalisedIdentifiers(patient);
    expect(patient).toEqual(before);
    expect(result).not.toBe(patient);
    expect(result.identifier).not.toBe(patient.identifier);
    expect(result.identifier?.[0]?.value).toBe('9990000018');
  });
});
