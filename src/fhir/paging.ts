import { Failures } from './outcomes.ts';

/**
 * A paging parameter (`_count`, `_offset`): a non-negative integer given at most once (a second
 * value would be left unread), `fallback` when absent.
 */
export function pagingParam(params: URLSearchParams, key: string, fallback: number): number {
  const values = params.getAll(key);
  if (values.length > 1) throw Failures.badRequest(`${key} is given once`, [key]);
  const value = values[0];
  if (value === undefined) return fallback;
  const n = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw Failures.badRequest(`${key} must be a non-negative integer`, [key]);
  if (key === '_offset' && n > MAX_OFFSET) {
    throw Failures.badRequest(`_offset may be at most ${MAX_OFFSET}; narrow the search instead`, [key]);
  }
  return n;
}

/**
 * The deepest page a search reaches: Medplum's server refuses offsets past 10,000, so the
 * facade refuses them on every store alike (the embedded one would answer).
 */
export const MAX_OFFSET = 10_000;
