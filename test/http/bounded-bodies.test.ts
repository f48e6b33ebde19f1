import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Extension, Patient, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadExamples } from '../../scripts/examples-lib.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import {
  budgetIssues,
  MAX_ARRAY_ITEMS,
  MAX_ELEMENTS,
  MAX_EXTENSION_DEPTH,
  MAX_EXTENSIONS,
  shapeIssues,
} from '../../src/fhir/shape.ts';
import { call, expectOutcome } from '../support/app.ts';
import {
  counts,
  exampleBody,
  postBundle,
  seededApp,
  THIRD_PARTY_ABSENT,
  THIRD_PARTY_DIR,
} from '../support/referrals.ts';

// Every body gets a 4xx or a 2xx, never a 5xx, and the work it causes is bounded before the
// validator (whose time grows with what a body holds) sees it.

const referral = () => exampleBody('01-gp-transaction-bundle.200');
const entryOf = <T extends Resource>(bundle: Bundle, type: T['resourceType']) =>
  bundle.entry?.find((e) => e.resource?.resourceType === type)?.resource as T;

describe('a primitive’s _element sibling of the wrong type', () => {
  it('is refused 400 on every write, and named by $validate, never a 500; nothing is stored', async () => {
    const { app, store } = await seededApp();
    const before = await counts(store);
    const serviceRequest = { ...entryOf<ServiceRequest>(referral(), 'ServiceRequest'), _status: 'x' };
    const bundle = referral();
    Object.assign(entryOf(bundle, 'ServiceRequest'), { _status: 'x' });
    const writes: [string, unknown][] = [
      ['/fhir', bundle],
      ['/fhir/ServiceRequest', serviceRequest],
      ['/fhir/Organization', { resourceType: 'Organization', name: 'Riverside', _name: 'x' }],
      ['/fhir/Location', { resourceType: 'Location', name: 'Hall', _status: 5 }],
      ['/fhir/HealthcareService', { resourceType: 'HealthcareService', name: 'Walks', _active: [true] }],
    ];
    for (const [path, body] of writes) {
      const outcome = await expectOutcome(await call(app, path, { body }), 400, 'structure');
      expect(outcome.issue[0].diagnostics, path).toMatch(/Element: id and extension/);
    }
    // $validate answers about the resource (200, an error issue), as for any other wrong shape.
    const validated = await call(app, '/fhir/ServiceRequest/$validate', { body: serviceRequest });
    expect(validated.status).toBe(200);
    const outcome = await validated.json();
    expect(outcome.issue).toContainEqual(
      expect.objectContaining({
        severity: 'error',
        code: 'structure',
        expression: ['ServiceRequest._status'],
      }),
    );
    expect(await counts(store)).toEqual(before);
  });

  it('is checked for arrays: an array of objects or nulls, as long as the values it lines up with', () => {
    indexDefinitions();
    const patient = (name: object): Resource => ({ resourceType: 'Patient', name: [name] }) as Resource;
    const where = (resource: Resource) => shapeIssues(resource).map((i) => i.expression?.[0]);
    expect(where(patient({ given: ['A'], _given: [1] }))).toEqual(['Patient.name[0]._given[0]']);
    expect(where(patient({ given: ['A'], _given: 'x' }))).toEqual(['Patient.name[0]._given']);
    expect(where(patient({ given: ['A', 'B'], _given: [{}] }))).toEqual(['Patient.name[0]._given']);
    expect(where({ resourceType: 'Patient', _gender: [{}] } as Resource)).toEqual(['Patient._gender']);
    // Inside the sibling, its own id is an element like any other.
    expect(where({ resourceType: 'Patient', _gender: { id: 'a', _id: 'x' } } as Resource)).toEqual([
      'Patient._gender._id',
    ]);
    // Choice types by their typed name, and only primitives have a sibling.
    expect(where({ resourceType: 'Patient', _deceasedBoolean: 'x' } as Resource)).toEqual([
      'Patient._deceasedBoolean',
    ]);
    expect(where({ resourceType: 'Patient', _identifier: {} } as Resource)).toEqual(['Patient._identifier']);
    // FHIR JSON's own forms pass: a value given only by its extension, lined up by null.
    const extension: Extension = { url: 'https://example.org/x', valueString: 'y' };
    expect(where(patient({ given: ['A', null], _given: [null, { extension: [extension] }] }))).toEqual([]);
    expect(where(patient({ _given: [{ extension: [extension] }] }))).toEqual([]);
    expect(where({ resourceType: 'Patient', gender: 'male', _gender: { id: 'g' } } as Resource)).toEqual([]);
  });
});

/** Extensions nested `depth` deep, `width` at each level, and how many there are in all. */
function nestedExtensions(depth: number, width: number): Extension[] {
  const leaf: Extension = { url: 'https://example.org/leaf', valueString: 'a' };
  if (depth === 0) return Array(width).fill(leaf);
  return [
    { url: 'https://example.org/branch', extension: nestedExtensions(depth - 1, width) },
    ...Array(width - 1).fill(leaf),
  ];
}

describe('what a body may hold', () => {
  it('refuses a Patient with 260,000 given names fast, with 413, before the validator', async () => {
    const { app, store } = await seededApp();
    const before = await counts(store);
    const bundle = referral();
    entryOf<Patient>(bundle, 'Patient').name = [{ family: 'Rahman', given: Array(260_000).fill('a') }];
    const started = performance.now();
    const outcome = await expectOutcome(await postBundle(app, bundle), 413, 'too-costly');
    const patient = entryOf<Patient>(bundle, 'Patient');
    const validated = await call(app, '/fhir/Patient/$validate', { body: patient });
    await expectOutcome(validated, 413, 'too-costly');
    // Refused in a pass over the body, not after a validation of 260,000 elements (about 2 s).
    expect(performance.now() - started).toBeLessThan(500);
    expect(outcome.issue[0].diagnostics).toContain(String(MAX_ARRAY_ITEMS));
    expect(outcome.issue[0].expression[0]).toMatch(/^entry\[\d+\]\.resource\.name\[0\]\.given$/);
    expect(await counts(store)).toEqual(before);
  });

  it('refuses a Patient with 1,300 nested extensions fast, with 413', async () => {
    const { app } = await seededApp();
    const patient: Patient = {
      ...entryOf<Patient>(referral(), 'Patient'),
      extension: nestedExtensions(21, 59),
    };
    const started = performance.now();
    const outcome = await expectOutcome(
      await call(app, '/fhir/Patient/$validate', { body: patient }),
      413,
      'too-costly',
    );
    expect(performance.now() - started).toBeLessThan(500);
    expect(outcome.issue[0].diagnostics).toMatch(/extensions|nested/);
    // Fewer, but more than any sender needs, and not nested: refused all the same.
    const flat = { ...patient, extension: nestedExtensions(0, MAX_EXTENSIONS + 1) };
    await expectOutcome(await call(app, '/fhir/Patient/$validate', { body: flat }), 413, 'too-costly');
  });

  it('sets each limit past what any example or published example holds', () => {
    indexDefinitions();
    const bodies: [string, unknown][] = [];
    for (const folder of ['referrals', 'journey', 'directory']) {
      for (const example of loadExamples(folder)) bodies.push([example.name, example.request.body]);
    }
    if (!THIRD_PARTY_ABSENT) {
      const walk = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
          d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.json') ? [join(dir, d.name)] : [],
        );
      for (const file of walk(THIRD_PARTY_DIR)) bodies.push([file, JSON.parse(readFileSync(file, 'utf8'))]);
    }
    expect(bodies.length).toBeGreaterThan(30);
    for (const [name, body] of bodies) expect(budgetIssues(body), name).toEqual([]);
  });

  it('names each limit where it is passed', () => {
    expect(budgetIssues({ a: Array(MAX_ARRAY_ITEMS + 1).fill(1) })[0]?.expression).toEqual(['a']);
    expect(budgetIssues({ a: Array(MAX_ARRAY_ITEMS).fill(1) })).toEqual([]);
    const deep = { extension: nestedExtensions(MAX_EXTENSION_DEPTH, 1) };
    expect(budgetIssues(deep)[0]?.diagnostics).toContain('nested');
    expect(budgetIssues({ extension: nestedExtensions(MAX_EXTENSION_DEPTH - 1, 1) })).toEqual([]);
    const wide = Array.from({ length: 20 }, () => Array(MAX_ELEMENTS / 20).fill(1));
    expect(budgetIssues(wide)[0]?.diagnostics).toContain(String(MAX_ELEMENTS));
  });
});
