/**
 * Property-based fuzzing of the HTTP surface: requests made by mutating the examples (bodies,
 * headers, paths and query strings), sent to the app on a seeded embedded store where a whole
 * journey has been run, so ids in paths lead to real referrals, Tasks and care plans. Each answer
 * is checked: never a 5xx, an OperationOutcome for every error, nothing stored for a refusal.
 * Used by a short run in `npm test` and a long one in `npm run fuzz`.
 */
import fc from 'fast-check';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { MAX_ARRAY_ITEMS } from '../../src/fhir/shape.ts';
import { createJsonLogger } from '../../src/logger.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import {
  captureValues,
  EXAMPLE_FOLDERS,
  type ExampleRequest,
  loadExamples,
  substitute,
  toRequestInit,
} from '../examples-lib.ts';

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface FuzzTarget {
  send(request: FuzzRequest): Promise<{ status: number; problems: string[]; ms: number }>;
  /** The example requests, their `{{ids}}` filled in from the journey. */
  bases: FuzzRequest[];
}

/** The app on a fresh seeded embedded store, after every example has been sent once. */
export async function createFuzzTarget(): Promise<FuzzTarget> {
  indexDefinitions();
  const { store: base } = createEmbeddedStore({ timeoutMs: 10_000 });
  await seedEmbeddedStore(base);
  let writes = 0;
  const store = countingWrites(base, () => writes++);
  const app = createApp({
    config: parseConfig({ LOG_LEVEL: 'silent' }),
    store,
    clock: () => new Date(),
    newId: () => crypto.randomUUID(),
    logger: createJsonLogger('silent'),
  });
  const values = new Map<string, string>();
  const bases: FuzzRequest[] = [];
  for (const folder of EXAMPLE_FOLDERS) {
    for (const example of loadExamples(folder)) {
      const request = substitute(example.request, values);
      const init = toRequestInit(request);
      const response = await app.request(`http://facade.test${request.path}`, init);
      await captureValues(substitute(example.response, values), response, values);
      bases.push(toFuzzRequest(request));
    }
  }
  return {
    bases,
    async send(request) {
      const before = writes;
      const started = performance.now();
      const response = await app.request(`http://facade.test${request.path}`, {
        method: request.method,
        headers: request.headers,
        ...(request.body !== undefined && !['GET', 'HEAD'].includes(request.method)
          ? { body: request.body }
          : {}),
      });
      const text = await response.text();
      const ms = performance.now() - started;
      const problems: string[] = [];
      if (response.status >= 500) problems.push(`status ${response.status}`);
      if (response.status >= 400 && request.method !== 'HEAD' && !isOutcome(text)) {
        problems.push(`status ${response.status} without an OperationOutcome`);
      }
      if (response.status >= 400 && writes > before) problems.push(`status ${response.status} after a write`);
      return { status: response.status, problems, ms };
    },
  };
}

function isOutcome(text: string): boolean {
  try {
    return (JSON.parse(text) as { resourceType?: string }).resourceType === 'OperationOutcome';
  } catch {
    return false;
  }
}

function toFuzzRequest(request: ExampleRequest): FuzzRequest {
  const init = toRequestInit(request);
  return {
    method: request.method,
    path: request.path,
    headers: { ...(init.headers as Record<string, string>) },
    ...(typeof init.body === 'string' ? { body: init.body } : {}),
  };
}

/** The store, counting every write a request makes (audit records aside: they follow every request). */
function countingWrites(store: FhirStore, count: () => void): FhirStore {
  const counted =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>, isWrite: (...args: A) => boolean = () => true) =>
    async (...args: A): Promise<R> => {
      const result = await fn(...args);
      if (isWrite(...args)) count();
      return result;
    };
  return {
    ...store,
    create: counted(
      store.create,
      (resource) => resource.resourceType !== 'AuditEvent',
    ) as FhirStore['create'],
    update: counted(store.update) as FhirStore['update'],
    delete: counted(store.delete),
    bundle: counted(store.bundle, (bundle) => (bundle.entry ?? []).some((e) => e.request?.method !== 'GET')),
  };
}

const HEADER_NAMES = [
  'content-type',
  'accept',
  'if-match',
  'if-none-match',
  'prefer',
  'x-request-id',
  'authorization',
];
const HEADER_VALUES = [
  'application/fhir+json',
  'application/json',
  'application/json-patch+json',
  'text/plain',
  'application/xml',
  '*/*',
  'W/"1"',
  '"x"',
  'return=minimal',
  'return=OperationOutcome',
  'Bearer x',
  '',
];
const QUERY_KEYS = [
  '_count',
  '_offset',
  '_sort',
  '_include',
  '_revinclude',
  '_format',
  '_summary',
  '_elements',
  'identifier',
  'patient',
  'subject',
  'status',
  'focus',
  '_id',
  '_lastUpdated',
  'birthdate',
  '_security',
  '_has:Task:focus:status',
  'subject:Patient.identifier',
  '_include:iterate',
];
const NASTY_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'resourceType',
  'id',
  'meta',
  '',
];

/** A JSON value to put somewhere it may not belong. */
const jsonNoise: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, [], {}, [null], '', 0, -1, 1e308, true, 'x'.repeat(5000)),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

/** Every path into a JSON value, as keys and indexes. */
function pathsOf(
  value: unknown,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(prefix);
  if (out.length > 400) return out;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) pathsOf(v, [...prefix, i], out);
  } else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  return out;
}

type BodyMutation = (body: unknown, pick: number, noise: unknown, key: string) => unknown;

const BODY_MUTATIONS: BodyMutation[] = [
  // Replace a value with noise.
  (body, pick, noise) => setAt(body, pick, () => noise),
  // Remove a key or an array member.
  (body, pick) => setAt(body, pick, () => undefined),
  // Add a key (sometimes one that names object machinery) beside the value.
  (body, pick, noise, key) =>
    setAt(body, pick, (v) =>
      v && typeof v === 'object' && !Array.isArray(v) ? { ...(v as object), [key]: noise } : v,
    ),
  // Put the value inside an array, or an array's first member in its place.
  (body, pick) => setAt(body, pick, (v) => (Array.isArray(v) ? v[0] : [v])),
  // A number as a string and a string as a number.
  (body, pick) =>
    setAt(body, pick, (v) =>
      typeof v === 'string' ? Number(v) || 0 : typeof v === 'number' ? String(v) : v,
    ),
  // Give an element an `_element` sibling (its id and extensions), mostly of the wrong type.
  (body, pick, noise) => withSibling(body, pick, noise),
  // Repeat an array's first member until the array is longer than a body may hold.
  (body, pick) =>
    setAt(body, pick, (v) =>
      Array.isArray(v) && v.length > 0 ? Array(MAX_ARRAY_ITEMS + 1 + (pick % 2000)).fill(v[0]) : v,
    ),
];

/** The body with `_key` set to `noise` beside the element at the picked path, when it is a key. */
function withSibling(body: unknown, pick: number, noise: unknown): unknown {
  const copy = structuredClone(body);
  const path = pathsOf(copy)[pick % pathsOf(copy).length] ?? [];
  const last = path.at(-1);
  if (typeof last !== 'string') return copy;
  let parent = copy as Record<string | number, unknown>;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  parent[`_${last}`] = noise;
  return copy;
}

function setAt(body: unknown, pick: number, change: (value: unknown) => unknown): unknown {
  const copy = structuredClone(body);
  const paths = pathsOf(copy);
  const path = paths[pick % paths.length] ?? [];
  if (path.length === 0) return change(copy);
  let parent = copy as Record<string | number, unknown>;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  const last = path.at(-1) as string | number;
  const next = change(parent[last]);
  if (next === undefined) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else {
    parent[last] = next;
  }
  return copy;
}

/** Requests made from the examples by one to three mutations. */
export function fuzzRequests(bases: readonly FuzzRequest[]): fc.Arbitrary<FuzzRequest> {
  const bodyMutation = fc
    .tuple(
      fc.nat(BODY_MUTATIONS.length - 1),
      fc.nat(),
      jsonNoise,
      fc.oneof(fc.constantFrom(...NASTY_KEYS), fc.string({ maxLength: 8 })),
    )
    .map(([which, pick, noise, key]) => (r: FuzzRequest): FuzzRequest => {
      if (r.body === undefined) return r;
      let parsed: unknown;
      try {
        parsed = JSON.parse(r.body);
      } catch {
        return r;
      }
      const mutated = (BODY_MUTATIONS[which] as BodyMutation)(parsed, pick, noise, key);
      // A computed "__proto__" key is an own property, so it survives JSON.stringify.
      return { ...r, body: JSON.stringify(mutated ?? null) };
    });
  const rawBody = fc
    .oneof(
      fc.string({ maxLength: 200 }),
      fc.constantFrom('{', '[]', 'null', '""', '{"resourceType":"Bundle"', '\u0000'),
    )
    .map(
      (body) =>
        (r: FuzzRequest): FuzzRequest => ({ ...r, body }),
    );
  const header = fc
    .tuple(
      fc.constantFrom(...HEADER_NAMES),
      fc.oneof(fc.constantFrom(...HEADER_VALUES), fc.string({ maxLength: 30 })),
    )
    .map(
      ([name, value]) =>
        (r: FuzzRequest): FuzzRequest => ({ ...r, headers: { ...r.headers, [name]: value } }),
    );
  const query = fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 10 })),
        fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.constantFrom('1', '-1', '1000', 'Task:focus', 'ServiceRequest:patient', 'ge2026-01-01', 'x|y'),
        ),
      ),
      { minLength: 1, maxLength: 3 },
    )
    .map((pairs) => (r: FuzzRequest): FuzzRequest => {
      const url = new URL(`http://x${r.path}`);
      for (const [k, v] of pairs) url.searchParams.append(k, v);
      return { ...r, path: `${url.pathname}${url.search}` };
    });
  const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD').map(
    (m) =>
      (r: FuzzRequest): FuzzRequest => ({ ...r, method: m }),
  );
  const segment = fc
    .tuple(
      fc.nat(),
      fc.oneof(
        fc.string({ maxLength: 12 }),
        fc.constantFrom('..', '%00', '$everything', '_history', 'x'.repeat(300)),
      ),
    )
    .map(([pick, value]) => (r: FuzzRequest): FuzzRequest => {
      const [pathname = '', search = ''] = r.path.split('?');
      const parts = pathname.split('/');
      const i = 1 + (pick % Math.max(1, parts.length - 1));
      parts[i] = encodeURIComponent(value);
      return { ...r, path: `${parts.join('/')}${search ? `?${search}` : ''}` };
    });
  const mutation = fc.oneof(
    { weight: 6, arbitrary: bodyMutation },
    { weight: 1, arbitrary: rawBody },
    { weight: 2, arbitrary: header },
    { weight: 2, arbitrary: query },
    { weight: 1, arbitrary: method },
    { weight: 1, arbitrary: segment },
  );
  return fc
    .tuple(fc.constantFrom(...bases), fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([base, mutations]) => mutations.reduce((r, mutate) => mutate(r), base));
}
