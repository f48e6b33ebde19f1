import { getSearchParameter, getSearchParameterDetails, SearchParameterType } from '@medplum/core';
import { ukPeriodOf } from './dates.ts';

/**
 * A date search on a dateTime, at a date's precision (`authored=2026-11-19`), as the range it
 * means: every instant in that day (or month, or year) in the UK
 * (https://hl7.org/fhir/R4/search.html#date). Medplum's server compares such a value with the
 * stored instant and finds nothing, its in-memory matcher finds the day by text; as a range both
 * answer the same, and correctly. Undefined when the search is not one of those.
 */
export function dateRangeSearch(type: string, key: string, value: string): [string, string][] | undefined {
  if (key.includes(':') || key.includes('.') || value.includes(',')) return undefined;
  const param = getSearchParameter(type, key);
  if (param?.type !== 'date') return undefined;
  if (getSearchParameterDetails(type, param).type !== SearchParameterType.DATETIME) return undefined;
  const bare = value.startsWith('eq') ? value.slice(2) : value;
  const period = ukPeriodOf(bare);
  if (!period) return undefined;
  return [
    [key, `ge${new Date(period.start).toISOString()}`],
    [key, `lt${new Date(period.end).toISOString()}`],
  ];
}
