/**
 * FHIR dates and dateTimes compared as what they mean: a date (or year, or month) is a day in the
 * UK, where referrals are made, and a dateTime with a time is an instant whatever its offset.
 * Comparing them as text or as UTC midnight gets both wrong.
 */
const UK = 'Europe/London';

const ukDay = new Intl.DateTimeFormat('en-CA', {
  timeZone: UK,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});
const ukClock = new Intl.DateTimeFormat('en-GB', {
  timeZone: UK,
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** The date in the UK at this instant, as `YYYY-MM-DD`. */
export function ukDateOf(instant: Date): string {
  return ukDay.format(instant);
}

const hasTime = (value: string): boolean => value.includes('T');

/**
 * Whether a FHIR date or dateTime lies after `now`: a date (at its precision) after today's UK
 * date, an instant more than `toleranceMs` after `now`.
 */
export function isInFuture(value: string, now: Date, toleranceMs = 0): boolean {
  if (hasTime(value)) return Date.parse(value) > now.getTime() + toleranceMs;
  return value > ukDateOf(now).slice(0, value.length);
}

/** The first instant a FHIR date or dateTime denotes (a date: its first moment in the UK). */
export function instantOf(value: string): number {
  if (hasTime(value)) return Date.parse(value);
  const [year = 0, month = 1, day = 1] = value.split('-').map(Number);
  const utcMidnight = Date.UTC(year, month - 1, day);
  return utcMidnight - ukOffsetMs(utcMidnight);
}

/**
 * The instants a FHIR date denotes at its precision (a year, a month or a day in the UK), from its
 * first moment to the first moment after it; undefined for a value with a time.
 */
export function ukPeriodOf(value: string): { start: number; end: number } | undefined {
  if (hasTime(value) || !/^\d{4}(-\d{2}(-\d{2})?)?$/.test(value)) return undefined;
  const [year = 0, month, day] = value.split('-').map(Number);
  const next =
    day !== undefined
      ? new Date(Date.UTC(year, (month as number) - 1, day + 1))
      : month !== undefined
        ? new Date(Date.UTC(year, month, 1))
        : new Date(Date.UTC(year + 1, 0, 1));
  return { start: instantOf(value), end: instantOf(next.toISOString().slice(0, 10)) };
}

/** How far UK clocks are ahead of UTC at an instant (0 in winter, an hour in summer). */
function ukOffsetMs(instant: number): number {
  const parts = Object.fromEntries(ukClock.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return wall - instant;
}

/** Orders FHIR dates and dateTimes by when they are, earliest first; undefined last. */
export function byInstant(a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  return instantOf(a) - instantOf(b);
}
