import { Failures } from './outcomes.ts';

/** A paging parameter (`_count`, `_offset`): a non-negative integer, `fallback` when absent. */
export function pagingParam(params: URLSearchParams, key: string, fallback: number): number {
  const value = params.get(key);
  const n = value === null ? fallback : Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw Failures.badRequest(`${key} must be a non-negative integer`, [key]);
  return n;
}
