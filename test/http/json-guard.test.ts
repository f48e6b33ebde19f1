import { describe, expect, it } from 'vitest';
import { jsonBodyIssues, MAX_DEPTH } from '../../src/http/json-guard.ts';
import { call, createTestApp, expectOutcome } from '../support/app.ts';
import { counts, exampleBody, postBundle, seededApp } from '../support/referrals.ts';

describe('jsonBodyIssues', () => {
  it('refuses object machinery keys wherever they are, by path', () => {
    const body = JSON.parse('{"a":{"__proto__":{"x":1}},"b":[{"constructor":1}],"prototype":2}');
    const issues = jsonBodyIssues(body);
    expect(issues.map((i) => i.expression?.[0]).sort()).toEqual([
      'a.__proto__',
      'b[0].constructor',
      'prototype',
    ]);
  });

  it('refuses every name an object inherits as a key (a lookup in a plain object would find it)', () => {
    const body = JSON.parse(
      '{"position":{"latitude":1,"toString":"x"},"name":[{"valueOf":"y","hasOwnProperty":1}],"toLocaleString":2}',
    );
    expect(
      jsonBodyIssues(body)
        .map((i) => i.expression?.[0])
        .sort(),
    ).toEqual(['name[0].hasOwnProperty', 'name[0].valueOf', 'position.toString', 'toLocaleString']);
  });

  it('answers such a key in any write with 400 before anything reads it, storing nothing', async () => {
    const { app, store } = createTestApp();
    const before = await counts(store);
    for (const [path, body] of [
      [
        '/fhir/Location',
        '{"resourceType":"Location","name":"x","position":{"latitude":50,"longitude":1,"toString":"x"}}',
      ],
      ['/fhir/Patient/$validate', '{"resourceType":"Patient","name":[{"family":"x","valueOf":"y"}]}'],
    ] as const) {
      const response = await app.request(`http://facade.test${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body,
      });
      await expectOutcome(response, 400);
    }
    expect(await counts(store)).toEqual(before);
  });

  it('refuses null in arrays, except where FHIR JSON lines a primitive array up with its extensions', () => {
    expect(jsonBodyIssues({ reasonCode: [null] }).map((i) => i.expression?.[0])).toEqual(['reasonCode[0]']);
    const aligned = { given: ['A', null], _given: [null, { extension: [{ url: 'x', valueString: 'y' }] }] };
    expect(jsonBodyIssues({ name: [aligned] })).toEqual([]);
  });

  it('refuses nesting deeper than the limit without walking it', () => {
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    const issues = jsonBodyIssues(deep);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.diagnostics).toContain(String(MAX_DEPTH));
    expect(jsonBodyIssues(JSON.parse(`${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}`))).toEqual([]);
  });

  it('stops at its limit', () => {
    expect(jsonBodyIssues({ a: new Array(1000).fill(null) }, 10)).toHaveLength(10);
  });
});

describe('the body parser', () => {
  it('answers a body with a __proto__ key with an OperationOutcome and stores nothing', async () => {
    const { app, store } = await seededApp();
    const before = await counts(store);
    const text = JSON.stringify(exampleBody('01-gp-transaction-bundle.200')).replace(
      '"resourceType":"Patient"',
      '"resourceType":"Patient","__proto__":{"polluted":true}',
    );
    const outcome = await expectOutcome(await postBundle(app, text), 400, 'structure');
    expect(outcome.issue[0].expression[0]).toMatch(/^entry\[\d+\]\.resource\.__proto__$/);
    expect(await counts(store)).toEqual(before);
  });

  it('answers deep nesting with 400, not 500', async () => {
    const { app } = createTestApp();
    const body = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    await expectOutcome(await call(app, '/fhir', { body }), 400, 'too-long');
  });
});

describe('bounded work per request', () => {
  it('a long string where an object belongs gives a bounded answer, the rest counted', async () => {
    const { app } = await seededApp();
    const bundle = exampleBody('01-gp-transaction-bundle.200');
    const patient = bundle.entry?.find((e) => e.resource?.resourceType === 'Patient');
    (patient?.resource as unknown as Record<string, unknown>).name = 'x'.repeat(100_000);
    const response = await postBundle(app, bundle);
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text.length).toBeLessThan(50_000);
    const outcome = JSON.parse(text) as { issue: { code: string; diagnostics: string }[] };
    expect(outcome.issue.length).toBeLessThanOrEqual(101);
  });
});

describe('answers no larger than their requests', () => {
  it('shortens the paths it names', () => {
    const key = 'k'.repeat(100_000);
    const issues = jsonBodyIssues({ [key]: [null, null] });
    expect(issues).toHaveLength(2);
    for (const issue of issues) expect(issue.expression?.[0]?.length).toBeLessThanOrEqual(201);
  });
});
