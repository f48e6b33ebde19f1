import { beforeAll, describe, expect, it } from 'vitest';
import { dateRangeSearch } from '../../src/fhir/date-search.ts';
import { ukPeriodOf } from '../../src/fhir/dates.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';

beforeAll(() => indexDefinitions());

const iso = (ms: number) => new Date(ms).toISOString();

describe('ukPeriodOf', () => {
  it('is the day, month or year in the UK, from its first moment to the next one’s', () => {
    const winter = ukPeriodOf('2026-11-19');
    expect(winter && [iso(winter.start), iso(winter.end)]).toEqual([
      '2026-11-19T00:00:00.000Z',
      '2026-11-20T00:00:00.000Z',
    ]);
    const summer = ukPeriodOf('2026-07-01');
    expect(summer && [iso(summer.start), iso(summer.end)]).toEqual([
      '2026-06-30T23:00:00.000Z',
      '2026-07-01T23:00:00.000Z',
    ]);
    const month = ukPeriodOf('2026-12');
    expect(month && [iso(month.start), iso(month.end)]).toEqual([
      '2026-12-01T00:00:00.000Z',
      '2027-01-01T00:00:00.000Z',
    ]);
    const year = ukPeriodOf('2026');
    expect(year && [iso(year.start), iso(year.end)]).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2027-01-01T00:00:00.000Z',
    ]);
    // The day the clocks go forward is 23 hours long.
    const spring = ukPeriodOf('2026-03-29');
    expect(spring && (spring.end - spring.start) / 3_600_000).toBe(23);
  });

  it('is undefined for a value with a time or not a date', () => {
    expect(ukPeriodOf('2026-11-19T10:00:00Z')).toBeUndefined();
    expect(ukPeriodOf('2026-1-9')).toBeUndefined();
    expect(ukPeriodOf('ge2026-11-19')).toBeUndefined();
  });
});

describe('dateRangeSearch', () => {
  it('turns a date at day, month or year precision on a dateTime into the range it means', () => {
    expect(dateRangeSearch('ServiceRequest', 'authored', '2026-11-19')).toEqual([
      ['authored', 'ge2026-11-19T00:00:00.000Z'],
      ['authored', 'lt2026-11-20T00:00:00.000Z'],
    ]);
    expect(dateRangeSearch('ServiceRequest', 'authored', 'eq2026-11')).toEqual([
      ['authored', 'ge2026-11-01T00:00:00.000Z'],
      ['authored', 'lt2026-12-01T00:00:00.000Z'],
    ]);
    expect(dateRangeSearch('Task', '_lastUpdated', '2026-11-19')).toHaveLength(2);
  });

  it('leaves alone a date element, a time, a prefix other than eq, a list, a modifier and a chain', () => {
    expect(dateRangeSearch('Patient', 'birthdate', '1948-03-02')).toBeUndefined();
    expect(dateRangeSearch('ServiceRequest', 'authored', '2026-11-19T10:00:00Z')).toBeUndefined();
    expect(dateRangeSearch('ServiceRequest', 'authored', 'ge2026-11-19')).toBeUndefined();
    expect(dateRangeSearch('ServiceRequest', 'authored', '2026-11-19,2026-11-20')).toBeUndefined();
    expect(dateRangeSearch('ServiceRequest', 'authored:missing', 'true')).toBeUndefined();
    expect(dateRangeSearch('ServiceRequest', 'status', '2026-11-19')).toBeUndefined();
  });
});
