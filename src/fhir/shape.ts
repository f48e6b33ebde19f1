import { getDataType, type InternalTypeSchema, isPrimitiveType, tryGetDataType } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { FhirError, type Issue } from './outcomes.ts';

/**
 * A first, cheap look at a resource's shape against its R4 type: an array where one value
 * belongs, one value where an array belongs, an object where a primitive belongs and the reverse.
 * Medplum's validator reads a string given where an array belongs one character at a time (a
 * 100 KB string costs half a second and gives 100,000 issues), so a resource of the wrong shape
 * is refused on these issues alone, in time linear in its size, before the validator sees it.
 * Elements it cannot place (choice types, extensions, unknown names) are left to the validator.
 */
export function shapeIssues(resource: Resource, limit = 100): Issue[] {
  const schema = tryGetDataType(resource.resourceType);
  const issues: Issue[] = [];
  if (schema)
    walk(resource as unknown as Record<string, unknown>, schema, resource.resourceType, issues, limit);
  return issues;
}

function walk(
  value: Record<string, unknown>,
  schema: InternalTypeSchema,
  path: string,
  issues: Issue[],
  limit: number,
): void {
  for (const [key, child] of Object.entries(value)) {
    if (issues.length >= limit) return;
    // Own keys only: `toString` or `valueOf` sent as a key is not an element of every type.
    const element = Object.hasOwn(schema.elements, key) ? schema.elements[key] : undefined;
    const type = element?.type.length === 1 ? element.type[0]?.code : undefined;
    if (!element || !type || key === 'resourceType' || child === null || child === undefined) continue;
    const at = `${path}.${key}`;
    const many = element.isArray || element.max > 1;
    if (many !== Array.isArray(child)) {
      issues.push(wrong(at, many ? 'an array' : 'a single value, not an array'));
      continue;
    }
    const items = Array.isArray(child) ? child : [child];
    for (const [i, item] of items.entries()) {
      const itemAt = many ? `${at}[${i}]` : at;
      const isObject = typeof item === 'object' && item !== null && !Array.isArray(item);
      if (isPrimitiveType(type)) {
        const expected = JSON_TYPE_OF[type] ?? 'string';
        if (typeof item !== expected) issues.push(wrong(itemAt, `a ${type} (a JSON ${expected})`));
      } else if (!isObject) {
        issues.push(wrong(itemAt, `an object (${type})`));
      } else {
        const inner = innerSchema(schema, element.path, type, item as Record<string, unknown>);
        if (inner) walk(item as Record<string, unknown>, inner, itemAt, issues, limit);
      }
      if (issues.length >= limit) return;
    }
  }
}

function innerSchema(
  schema: InternalTypeSchema,
  elementPath: string,
  type: string,
  value: Record<string, unknown>,
): InternalTypeSchema | undefined {
  if (type === 'BackboneElement' || type === 'Element') {
    return (
      schema.innerTypes.find((t) => t.path === elementPath) ??
      root(schema).innerTypes.find((t) => t.path === elementPath)
    );
  }
  if (type === 'Resource')
    return typeof value.resourceType === 'string' ? tryGetDataType(value.resourceType) : undefined;
  return tryGetDataType(type) ?? (type === 'Extension' ? getDataType('Extension') : undefined);
}

/** Inner types of a backbone element are kept on the resource's schema. */
function root(schema: InternalTypeSchema): InternalTypeSchema {
  const name = schema.path.split('.')[0] ?? schema.path;
  return tryGetDataType(name) ?? schema;
}

/** The JSON type each FHIR primitive is written as; every other primitive is a string. */
const JSON_TYPE_OF: Readonly<Record<string, 'boolean' | 'number'>> = {
  boolean: 'boolean',
  integer: 'number',
  integer64: 'number',
  decimal: 'number',
  positiveInt: 'number',
  unsignedInt: 'number',
};

const wrong = (at: string, what: string): Issue => ({
  code: 'structure',
  diagnostics: `Expected ${what}`,
  expression: [at],
});

/**
 * The shape of a Bundle's envelope (entries an array of objects, `fullUrl` a string, `request` an
 * object with a method and url): what every reader of a posted Bundle relies on. Bundle's own
 * definition is not among the slim definitions, so these few elements are checked here.
 */
export function bundleEnvelopeIssues(bundle: { entry?: unknown }): Issue[] {
  if (bundle.entry === undefined) return [];
  if (!Array.isArray(bundle.entry)) return [wrong('Bundle.entry', 'an array')];
  const issues: Issue[] = [];
  bundle.entry.forEach((entry: unknown, i) => {
    const at = `Bundle.entry[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      issues.push(wrong(at, 'an object'));
      return;
    }
    const { fullUrl, request, resource } = entry as Record<string, unknown>;
    if (fullUrl !== undefined && typeof fullUrl !== 'string')
      issues.push(wrong(`${at}.fullUrl`, 'a uri (a JSON string)'));
    if (
      resource !== undefined &&
      (typeof resource !== 'object' || resource === null || Array.isArray(resource))
    ) {
      issues.push(wrong(`${at}.resource`, 'a resource (an object)'));
    }
    if (request !== undefined) {
      const r = request as Record<string, unknown> | null;
      if (typeof r !== 'object' || r === null || typeof r.method !== 'string' || typeof r.url !== 'string') {
        issues.push(wrong(`${at}.request`, 'an object with a method and a url'));
      }
    }
  });
  return issues;
}

/** Raises the shape issues of a resource sent in a body, before anything reads it further. */
export function requireShape(resource: Resource, at?: string): void {
  const issues = shapeIssues(resource).map((issue) =>
    at
      ? { ...issue, expression: issue.expression?.map((e) => at + e.slice(resource.resourceType.length)) }
      : issue,
  );
  if (issues.length) throw new FhirError('malformed', issues);
}
