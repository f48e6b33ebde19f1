import type { Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { FhirError } from '../../src/fhir/outcomes.ts';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';
import { patched, replacementOf } from '../../src/workflow/versioned-update.ts';

const stored: Task = {
  resourceType: 'Task',
  id: 't1',
  meta: {
    versionId: '4',
    security: [{ system: OWN_SYSTEM.organisationAccess, code: 'B99901' }],
  },
  status: 'requested',
  intent: 'order',
  note: [{ text: 'first' }],
};

/** The FhirError `fn` throws; fails the test when it throws anything else, or nothing. */
function failureOf(fn: () => unknown): FhirError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FhirError) return err;
    throw err;
  }
  throw new Error('expected a FhirError');
}

const issuesOf = (err: FhirError) => err.outcome.issue ?? [];

describe('patched: malformed patches', () => {
  it.each([
    ['an object', { op: 'replace', path: '/status', value: 'accepted' }],
    ['null', null],
    ['a string', '[]'],
    ['undefined', undefined],
  ])('refuses %s in place of an array', (_, body) => {
    const err = failureOf(() => patched(stored, body));
    expect(err.kind).toBe('malformed');
    expect(issuesOf(err)).toEqual([
      { severity: 'error', code: 'structure', diagnostics: 'Expected a JSON Patch array' },
    ]);
  });

  it.each([
    ['null', null],
    ['a number', 3],
    ['an array', [{ op: 'remove', path: '/note' }]],
  ])('refuses %s as an operation', (_, op) => {
    const err = failureOf(() => patched(stored, [op]));
    expect(err.kind).toBe('malformed');
    expect(issuesOf(err)).toEqual([
      {
        severity: 'error',
        code: 'structure',
        diagnostics: 'Each patch operation is an object',
        expression: ['[0]'],
      },
    ]);
  });

  it('names both problems of an add with neither path nor value', () => {
    const err = failureOf(() => patched(stored, [{ op: 'add' }]));
    expect(err.kind).toBe('malformed');
    expect(issuesOf(err).map((i) => [i.code, i.expression])).toEqual([
      ['value', ['[0]']],
      ['required', ['[0]']],
    ]);
    expect(issuesOf(err)[1]?.diagnostics).toBe('add needs a value');
  });

  it.each([
    ['a path without a leading /', { op: 'remove', path: 'status' }],
    ['an empty path', { op: 'remove', path: '' }],
    ['a path that is not a string', { op: 'remove', path: ['status'] }],
    ['an unknown op', { op: 'delete', path: '/status' }],
    ['an op in capitals', { op: 'REMOVE', path: '/status' }],
    ['no op', { path: '/status' }],
    ['a replace without a value', { op: 'replace', path: '/status' }],
    ['a test without a value', { op: 'test', path: '/status' }],
    ['a move without from', { op: 'move', path: '/note' }],
    // Each copy can double what it copies: a few dozen would exhaust memory.
    ['a copy', { op: 'copy', from: '/note', path: '/note/-' }],
    ['a move into its own child', { op: 'move', from: '/note', path: '/note/0' }],
    ['a move deeper into itself', { op: 'move', from: '/note/0', path: '/note/0/text' }],
  ])('refuses %s with one issue', (_, op) => {
    const err = failureOf(() => patched(stored, [op]));
    expect(err.kind).toBe('malformed');
    expect(issuesOf(err)).toHaveLength(1);
    expect(issuesOf(err)[0]?.expression).toEqual(['[0]']);
  });

  it('says why a move into its own child is refused', () => {
    const err = failureOf(() => patched(stored, [{ op: 'move', from: '/note', path: '/note/0' }]));
    expect(issuesOf(err)[0]).toMatchObject({
      code: 'value',
      diagnostics: 'A value cannot be moved into itself',
    });
  });

  it('reports every bad operation at its index, and none for the good ones', () => {
    const body = [
      { op: 'replace', path: '/status', value: 'accepted' },
      null,
      { op: 'bogus', path: '/status' },
      { op: 'test', path: '/status', value: 'requested' },
      { op: 'remove', path: 'note' },
      { op: 'move', from: '/note', path: '/note/0' },
    ];
    const err = failureOf(() => patched(stored, body));
    expect(err.kind).toBe('malformed');
    expect(issuesOf(err).map((i) => i.expression)).toEqual([['[1]'], ['[2]'], ['[4]'], ['[5]']]);
  });

  it('applies nothing of a malformed patch', () => {
    const before = structuredClone(stored);
    failureOf(() =>
      patched(stored, [
        { op: 'replace', path: '/status', value: 'accepted' },
        { op: 'add', path: '/note/-' },
      ]),
    );
    expect(stored).toEqual(before);
  });
});

describe('patched: well-formed patches', () => {
  it('applies the patch to a copy, as the caller sees the resource', () => {
    const before = structuredClone(stored);
    const result = patched(stored, [
      { op: 'test', path: '/status', value: 'requested' },
      { op: 'replace', path: '/status', value: 'accepted' },
      { op: 'add', path: '/note/-', value: { text: 'second' } },
    ]);
    expect(result.status).toBe('accepted');
    expect(result.note).toEqual([{ text: 'first' }, { text: 'second' }]);
    // The organisation access labels are never the caller's to see or patch.
    expect(result.meta).toEqual({ versionId: '4' });
    expect(stored).toEqual(before);
    expect(result.note).not.toBe(stored.note);
  });

  it('accepts a move to a sibling whose name starts the same', () => {
    const result = patched(stored, [{ op: 'move', from: '/note', path: '/noteCopy' }]);
    expect(result).not.toHaveProperty('note');
    expect(result).toHaveProperty('noteCopy', [{ text: 'first' }]);
  });

  it('accepts an empty patch', () => {
    expect(patched(stored, [])).toEqual({ ...stored, meta: { versionId: '4' } });
  });

  it.each([
    ['a test that fails', [{ op: 'test', path: '/status', value: 'accepted' }]],
    ['removing a missing path', [{ op: 'remove', path: '/description' }]],
    ['replacing a missing path', [{ op: 'replace', path: '/description', value: 'x' }]],
    ['moving from a missing path', [{ op: 'move', from: '/description', path: '/reasonCode' }]],
    [
      'a failing operation after a good one',
      [
        { op: 'replace', path: '/status', value: 'accepted' },
        { op: 'remove', path: '/note/5' },
      ],
    ],
  ])('refuses as invalid a patch that does not apply: %s', (_, body) => {
    const before = structuredClone(stored);
    const err = failureOf(() => patched(stored, body));
    expect(err.kind).toBe('invalid');
    expect(issuesOf(err)).toEqual([
      { severity: 'error', code: 'processing', diagnostics: 'The patch does not apply to this Task' },
    ]);
    expect(stored).toEqual(before);
  });
});

describe('replacementOf', () => {
  const body: Task = { resourceType: 'Task', id: 't1', status: 'accepted', intent: 'order' };

  it('returns a body of the type and id of the URL', () => {
    expect(replacementOf<Task>('Task', 't1', body)).toBe(body);
  });

  it.each([
    ['another type', { ...body, resourceType: 'CarePlan' }],
    ['no type', { id: 't1', status: 'accepted' }],
    ['null', null],
    ['an array', [body]],
    ['a string', 'Task'],
  ])('refuses %s', (_, value) => {
    const err = failureOf(() => replacementOf<Task>('Task', 't1', value));
    expect(err.kind).toBe('malformed');
    expect(issuesOf(err)).toEqual([
      { severity: 'error', code: 'structure', diagnostics: 'Expected a Task', expression: ['resourceType'] },
    ]);
  });

  it.each([
    ['another id', { ...body, id: 't2' }],
    ['no id', { ...body, id: undefined }],
  ])('refuses %s', (_, value) => {
    const err = failureOf(() => replacementOf<Task>('Task', 't1', value));
    expect(err.kind).toBe('malformed');
    expect(issuesOf(err)).toEqual([
      {
        severity: 'error',
        code: 'invariant',
        diagnostics: 'The Task’s id must be the id in the URL',
        expression: ['Task.id'],
      },
    ]);
  });
});

describe('patched: bounded', () => {
  it('refuses more than 100 operations before applying any', () => {
    const ops = Array.from({ length: 101 }, () => ({ op: 'add', path: '/note/-', value: { text: 'x' } }));
    expect(() => patched(stored, ops)).toThrow(expect.objectContaining({ kind: 'malformed' }));
  });
});
