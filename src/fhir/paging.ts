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
  return n;
}
