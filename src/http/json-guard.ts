import type { Issue } from '../fhir/outcomes.ts';

/**
 * Keys that name an object's machinery rather than data; never meaningful in FHIR or our JSON.
 * Every name an object inherits is among them: looked up in a plain object (a validator's table
 * of elements, say), `toString` or `valueOf` would be found there and taken for something.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'prototype',
  ...Object.getOwnPropertyNames(Object.prototype),
]);

/** Deeper than any FHIR resource goes; deeper input is refused before anything walks it. */
export const MAX_DEPTH = 48;

/**
 * Problems with a parsed JSON body that no later check should have to meet: keys such as
 * `__proto__`, `null` inside arrays (allowed only where FHIR JSON uses it to line a primitive
 * array up with its `_element` extensions), and nesting deeper than MAX_DEPTH. Iterative, so
 * the depth of the input cannot exhaust the stack; stops after `limit` issues.
 */
export function jsonBodyIssues(body: unknown, limit = 100): Issue[] {
  // An issue names where it is, shortened: a key may be a megabyte long, and 100 of them echoed
  // back would make the answer a hundred times the request.
  const short = (path: string) => (path.length > 200 ? `${path.slice(0, 200)}…` : path);
  const issues: Issue[] = [];
  const stack: { value: unknown; path: string; depth: number; nullsAllowed: boolean }[] = [
    { value: body, path: '', depth: 0, nullsAllowed: false },
  ];
  while (stack.length > 0 && issues.length < limit) {
    const { value, path, depth, nullsAllowed } = stack.pop() as (typeof stack)[number];
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_DEPTH) {
      issues.push({
        code: 'too-long',
        diagnostics: `The body is nested deeper than ${MAX_DEPTH} levels`,
        expression: [short(path) || '(body)'],
      });
      break;
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length && issues.length < limit; i++) {
        const item: unknown = value[i];
        if (item === null && !nullsAllowed) {
          issues.push({
            code: 'structure',
            diagnostics: 'Arrays may not hold null',
            expression: [short(`${path}[${i}]`)],
          });
        }
        // Only containers are walked further: a long array of strings costs one pass, no more.
        if (typeof item === 'object' && item !== null) {
          stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1, nullsAllowed: false });
        }
      }
      continue;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const at = path ? `${path}.${key}` : key;
      if (FORBIDDEN_KEYS.has(key)) {
        issues.push({
          code: 'structure',
          diagnostics: `The key ${key} is not allowed`,
          expression: [short(at)],
        });
        continue;
      }
      // FHIR JSON: `given: ["A", null]` with `_given: [null, {...}]` lines values up with extensions.
      const child = record[key];
      if (typeof child !== 'object' || child === null) continue;
      const aligned = key.startsWith('_') || Object.hasOwn(record, `_${key}`);
      stack.push({ value: child, path: at, depth: depth + 1, nullsAllowed: aligned });
    }
  }
  return issues.slice(0, limit);
}
