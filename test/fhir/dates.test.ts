import { describe, expect, it } from 'vitest';
import { byInstant, instantOf, isInFuture, ukDateOf } from '../../src/fhir/dates.ts';

// 00:30 on 15 July in London (BST, UTC+1), still 14 July in UTC.
const SUMMER_NIGHT = new Date('2026-07-14T23:30:00Z');
// 23:30 on 14 January in London (GMT), the same as UTC.
const WINTER_NIGHT = new Date('2026-01-14T23:30:00Z');

describe('isInFuture: dates are UK days', () => {
  it.each([
    ['2026-07-14', false],
    ['2026-07-15', false],
    ['2026-07-16', true],
    ['2026-07', false],
    ['2026-08', true],
    ['2026-06', false],
    ['2026', false],
    ['2027', true],
    ['2025', false],
  ])('in summer just after UK midnight, %s in the future: %s', (value, expected) => {
    expect(isInFuture(value, SUMMER_NIGHT)).toBe(expected);
  });

  it.each([
    ['2026-01-13', false],
    ['2026-01-14', false],
    ['2026-01-15', true],
    ['2026-01', false],
    ['2026-02', true],
    ['2026', false],
    ['2027', true],
  ])('in winter just before midnight, %s in the future: %s', (value, expected) => {
    expect(isInFuture(value, WINTER_NIGHT)).toBe(expected);
  });

  it('takes the month and year of the UK day, not of UTC', () => {
    // 00:30 on 1 July in London, 30 June in UTC.
    const firstOfJuly = new Date('2026-06-30T23:30:00Z');
    expect(isInFuture('2026-07', firstOfJuly)).toBe(false);
    expect(isInFuture('2026-07-01', firstOfJuly)).toBe(false);
    expect(isInFuture('2026-07-02', firstOfJuly)).toBe(true);
    // New Year's Eve is in GMT: 23:30 UTC is still 2026 in London.
    const newYearsEve = new Date('2026-12-31T23:30:00Z');
    expect(isInFuture('2027', newYearsEve)).toBe(true);
    expect(isInFuture('2027-01', newYearsEve)).toBe(true);
    expect(isInFuture('2026-12-31', newYearsEve)).toBe(false);
  });
});

describe('isInFuture: dateTimes are instants', () => {
  it('compares the instant, whatever its offset', () => {
    expect(isInFuture('2026-07-15T00:30:00+01:00', SUMMER_NIGHT)).toBe(false);
    expect(isInFuture('2026-07-15T00:30:01+01:00', SUMMER_NIGHT)).toBe(true);
    expect(isInFuture('2026-07-14T23:30:01Z', SUMMER_NIGHT)).toBe(true);
    // Later as text, earlier as an instant (23:00Z).
    expect(isInFuture('2026-07-15T01:00:00+02:00', SUMMER_NIGHT)).toBe(false);
    // Earlier as text, later as an instant (00:00Z on the 15th).
    expect(isInFuture('2026-07-14T20:00:00-04:00', SUMMER_NIGHT)).toBe(true);
  });

  it('allows the tolerance, and no more', () => {
    expect(isInFuture('2026-07-14T23:30:05Z', SUMMER_NIGHT, 5_000)).toBe(false);
    expect(isInFuture('2026-07-14T23:30:05.001Z', SUMMER_NIGHT, 5_000)).toBe(true);
    expect(isInFuture('2026-07-14T23:30:05Z', SUMMER_NIGHT, 4_999)).toBe(true);
    expect(isInFuture('2026-07-14T23:30:05Z', SUMMER_NIGHT)).toBe(true);
  });
});

describe('instantOf', () => {
  it('is the first UK moment of a date', () => {
    expect(instantOf('2026-07-15')).toBe(Date.UTC(2026, 6, 14, 23));
    expect(instantOf('2026-01-15')).toBe(Date.UTC(2026, 0, 15));
  });

  it('is the first UK moment of a month or a year', () => {
    expect(instantOf('2026-07')).toBe(Date.UTC(2026, 5, 30, 23));
    expect(instantOf('2026-01')).toBe(Date.UTC(2026, 0, 1));
    expect(instantOf('2026')).toBe(Date.UTC(2026, 0, 1));
  });

  it('follows the clock changes (29 March and 25 October 2026, at 01:00 UTC)', () => {
    expect(instantOf('2026-03-29')).toBe(Date.UTC(2026, 2, 29));
    expect(instantOf('2026-03-30')).toBe(Date.UTC(2026, 2, 29, 23));
    expect(instantOf('2026-10-25')).toBe(Date.UTC(2026, 9, 24, 23));
    expect(instantOf('2026-10-26')).toBe(Date.UTC(2026, 9, 26));
  });

  it('reads a dateTime at its own offset', () => {
    expect(instantOf('2026-11-20T09:30:00+01:00')).toBe(Date.UTC(2026, 10, 20, 8, 30));
    expect(instantOf('2026-11-20T09:00:00Z')).toBe(Date.UTC(2026, 10, 20, 9));
    expect(instantOf('2026-07-15T00:30:00-05:00')).toBe(Date.UTC(2026, 6, 15, 5, 30));
    expect(instantOf('2026-07-15T00:30:00.250+00:00')).toBe(Date.UTC(2026, 6, 15, 0, 30, 0, 250));
  });
});

describe('byInstant', () => {
  it('orders by instant where text order would swap them', () => {
    const values = ['2026-11-20T09:00:00Z', '2026-11-20T09:30:00+01:00'];
    expect([...values].sort()).toEqual(values);
    expect([...values].sort(byInstant)).toEqual(['2026-11-20T09:30:00+01:00', '2026-11-20T09:00:00Z']);
    expect(byInstant('2026-11-20T09:30:00+01:00', '2026-11-20T09:00:00Z')).toBeLessThan(0);
    expect(byInstant('2026-11-20T09:00:00Z', '2026-11-20T09:30:00+01:00')).toBeGreaterThan(0);
  });

  it('puts undefined last', () => {
    const values = [undefined, '2026-11-20T09:00:00Z', undefined, '2026-01-01'];
    expect(values.sort(byInstant)).toEqual(['2026-01-01', '2026-11-20T09:00:00Z', undefined, undefined]);
    expect(byInstant(undefined, '2026-01-01')).toBeGreaterThan(0);
    expect(byInstant('2026-01-01', undefined)).toBeLessThan(0);
    expect(byInstant(undefined, undefined)).toBe(0);
  });

  it('finds the same instant in different offsets equal', () => {
    expect(byInstant('2026-11-20T10:00:00+01:00', '2026-11-20T09:00:00Z')).toBe(0);
    expect(byInstant('2026-11-20T04:00:00-05:00', '2026-11-20T09:00:00+00:00')).toBe(0);
  });

  it('places a UK date at its first moment among dateTimes', () => {
    // 15 July starts at 23:00Z on the 14th.
    expect(byInstant('2026-07-15', '2026-07-14T23:30:00Z')).toBeLessThan(0);
    expect(byInstant('2026-07-15', '2026-07-14T22:30:00Z')).toBeGreaterThan(0);
    expect(byInstant('2026-07-15', '2026-07-15T00:00:00+01:00')).toBe(0);
  });
});

describe('ukDateOf', () => {
  it('turns the day at 23:00 UTC in summer', () => {
    expect(ukDateOf(new Date('2026-07-14T22:59:59Z'))).toBe('2026-07-14');
    expect(ukDateOf(new Date('2026-07-14T23:00:00Z'))).toBe('2026-07-15');
    expect(ukDateOf(SUMMER_NIGHT)).toBe('2026-07-15');
  });

  it('turns the day at midnight UTC in winter', () => {
    expect(ukDateOf(WINTER_NIGHT)).toBe('2026-01-14');
    expect(ukDateOf(new Date('2026-01-14T23:59:59.999Z'))).toBe('2026-01-14');
    expect(ukDateOf(new Date('2026-01-15T00:00:00Z'))).toBe('2026-01-15');
  });
});
