import { applyPatch, type Operation } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { isVisible } from '../auth/tenancy.ts';
import { Failures, FhirError, type Issue, requireIfMatch } from '../fhir/outcomes.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import { requireShape } from '../fhir/shape.ts';
import { type FhirStore, readIfExists } from '../medplum/store.ts';

/** A stored resource about to be changed, and the version the caller read. */
export interface UpdateTarget<T extends Resource> {
  stored: T;
  version: string;
}

/**
 * What every versioned update (PUT and PATCH, Task and CarePlan) starts with: the update scope,
 * `If-Match`, the stored resource (not found unless the caller may see it) and the version check.
 */
export async function beginUpdate<T extends Resource>(
  store: FhirStore,
  ctx: RequestContext,
  type: T['resourceType'],
  id: string,
  ifMatch: string | undefined,
): Promise<UpdateTarget<T>> {
  authorize(ctx.principal, type, 'u');
  const version = requireIfMatch(ifMatch);
  const stored = await readIfExists<T>(store, type, id);
  if (!stored || !isVisible(ctx.principal, stored)) throw Failures.notFound();
  if (stored.meta?.versionId !== version) throw Failures.stale(nameOf(type));
  return { stored, version };
}

/** The body of a PUT: the resource of the URL's type and id. */
export function replacementOf<T extends Resource>(type: T['resourceType'], id: string, body: unknown): T {
  const resource = body as Partial<T> | null;
  if (resource?.resourceType !== type) {
    throw new FhirError('malformed', [
      { code: 'structure', diagnostics: `Expected a ${type}`, expression: ['resourceType'] },
    ]);
  }
  if (resource.id !== id) {
    throw new FhirError('malformed', [
      {
        code: 'invariant',
        diagnostics: `The ${type}’s id must be the id in the URL`,
        expression: [`${type}.id`],
      },
    ]);
  }
  requireShape(resource as T);
  return resource as T;
}

// `copy` is left out: each one can double what it copies, so a few dozen would exhaust memory.
const PATCH_OPS = new Set(['add', 'remove', 'replace', 'move', 'test']);
/** More than any change of a Task's progress or a care plan needs. */
const MAX_PATCH_OPS = 100;

/**
 * The stored resource (as the caller sees it) with a JSON Patch (RFC 6902) applied. The patch is
 * checked whole first, so a malformed one is refused with every problem named, never half applied.
 */
export function patched<T extends Resource>(stored: T, body: unknown): T {
  if (!Array.isArray(body)) {
    throw new FhirError('malformed', [{ code: 'structure', diagnostics: 'Expected a JSON Patch array' }]);
  }
  if (body.length > MAX_PATCH_OPS) {
    throw new FhirError('malformed', [
      { code: 'too-costly', diagnostics: `A patch holds at most ${MAX_PATCH_OPS} operations` },
    ]);
  }
  const issues = body.flatMap((op, i) => patchOperationIssues(op, i));
  if (issues.length) throw new FhirError('malformed', issues);
  const copy = structuredClone(toPublicResource(stored));
  let errors: unknown[];
  try {
    errors = applyPatch(copy, body as Operation[]);
  } catch {
    errors = [new Error('patch')];
  }
  if (errors.some(Boolean)) {
    throw new FhirError('invalid', [
      { code: 'processing', diagnostics: `The patch does not apply to this ${stored.resourceType}` },
    ]);
  }
  requireShape(copy);
  return copy;
}

function patchOperationIssues(op: unknown, i: number): Issue[] {
  const at = [`[${i}]`];
  if (typeof op !== 'object' || op === null || Array.isArray(op)) {
    return [{ code: 'structure', diagnostics: 'Each patch operation is an object', expression: at }];
  }
  const { op: name, path, from } = op as Record<string, unknown>;
  const issues: Issue[] = [];
  if (typeof name !== 'string' || !PATCH_OPS.has(name)) {
    issues.push({ code: 'value', diagnostics: `op is one of ${[...PATCH_OPS].join(', ')}`, expression: at });
  }
  if (!isPointer(path)) {
    issues.push({ code: 'value', diagnostics: 'path is a JSON Pointer (starting with /)', expression: at });
  }
  if (name === 'move' && !isPointer(from)) {
    issues.push({ code: 'value', diagnostics: 'from is a JSON Pointer (starting with /)', expression: at });
  }
  if (name === 'move' && isPointer(from) && isPointer(path) && path.startsWith(`${from}/`)) {
    issues.push({ code: 'value', diagnostics: 'A value cannot be moved into itself', expression: at });
  }
  if ((name === 'add' || name === 'replace' || name === 'test') && !('value' in (op as object))) {
    issues.push({ code: 'required', diagnostics: `${name} needs a value`, expression: at });
  }
  return issues;
}

function isPointer(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('/');
}

function nameOf(type: string): string {
  return type === 'CarePlan' ? 'care plan' : type;
}
