import {
  getDataType,
  type InternalSchemaElement,
  type InternalTypeSchema,
  isPrimitiveType,
  tryGetDataType,
} from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { FhirError, type Issue } from './outcomes.ts';

/** More items than any array of a resource sent here holds (the examples hold at most 19). */
export const MAX_ARRAY_ITEMS = 1_000;

/** Extensions nested in extensions, deeper than any published one goes (they go 2 deep). */
export const MAX_EXTENSION_DEPTH = 8;

/**
 * Extensions a body or a resource may hold: each costs the validator about 0.1 ms (its
 * invariants are evaluated one by one), and a body sent here holds at most a few.
 */
export const MAX_EXTENSIONS = 200;

/**
 * JSON values (objects, arrays and primitives) a body or a resource may hold: the validator's
 * time grows with them, and the largest published referral Bundle holds about 700.
 */
export const MAX_ELEMENTS = 5_000;

/**
 * What a body or resource holds beyond what any sender needs: an array longer than
 * MAX_ARRAY_ITEMS, extensions nested deeper than MAX_EXTENSION_DEPTH, more than MAX_EXTENSIONS
 * extensions or MAX_ELEMENTS values. One pass, stopped at the first limit passed, so it costs at
 * most MAX_ELEMENTS steps whatever the input; it runs before anything that costs more per element.
 */
export function budgetIssues(value: unknown, root = ''): Issue[] {
  return measureBudget(value, root).issues;
}

/**
 * {@link budgetIssues}, with the number of JSON values counted: all of them when within the
 * limits, as far as the walk went otherwise.
 */
export function measureBudget(value: unknown, root = ''): { issues: Issue[]; elements: number } {
  const stack: { value: unknown; path: string; extensions: number }[] = [
    { value, path: root, extensions: 0 },
  ];
  let elements = 0;
  let extensionCount = 0;
  while (stack.length > 0) {
    const { value: node, path, extensions } = stack.pop() as (typeof stack)[number];
    elements++;
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      if (node.length > MAX_ARRAY_ITEMS) {
        return { issues: [tooCostly(path, `An array may hold at most ${MAX_ARRAY_ITEMS} items`)], elements };
      }
      node.forEach((item, i) => {
        stack.push({ value: item, path: `${path}[${i}]`, extensions });
      });
    } else {
      for (const [key, child] of Object.entries(node)) {
        const nested = key === 'extension' || key === 'modifierExtension' ? extensions + 1 : extensions;
        if (nested > MAX_EXTENSION_DEPTH) {
          return {
            issues: [tooCostly(path, `Extensions may be nested at most ${MAX_EXTENSION_DEPTH} deep`)],
            elements,
          };
        }
        if (nested > extensions && Array.isArray(child)) extensionCount += child.length;
        if (extensionCount > MAX_EXTENSIONS) {
          const what = root ? 'A resource' : 'A body';
          return {
            issues: [tooCostly(root || '(body)', `${what} may hold at most ${MAX_EXTENSIONS} extensions`)],
            elements,
          };
        }
        stack.push({ value: child, path: path ? `${path}.${key}` : key, extensions: nested });
      }
    }
    // Everything waiting will be counted: past the limit already, it need not be walked.
    if (elements + stack.length > MAX_ELEMENTS) {
      const what = root ? 'A resource' : 'A body';
      return {
        issues: [tooCostly(root || '(body)', `${what} may hold at most ${MAX_ELEMENTS} elements`)],
        elements,
      };
    }
  }
  return { issues: [], elements };
}

const tooCostly = (at: string, diagnostics: string): Issue => ({
  code: 'too-costly',
  diagnostics,
  // A key may be long; the path is named, shortened, not echoed whole.
  expression: [at.length > 200 ? `${at.slice(0, 200)}…` : at],
});

/**
 * A first, cheap look at a resource's shape against its R4 type: an array where one value
 * belongs, one value where an array belongs, an object where a primitive belongs and the reverse,
 * and a primitive's `_element` sibling (its id and extensions) that is not an object, or for a
 * primitive array not an array of objects (or nulls) lined up with it. Medplum's validator reads
 * a string given where an array belongs one character at a time (a 100 KB string costs half a
 * second and gives 100,000 issues), and throws on an `_element` sibling of the wrong type, so a
 * resource of the wrong shape is refused on these issues alone, in time linear in its size,
 * before the validator sees it; one past {@link budgetIssues}' limits is refused on that alone.
 * Elements it cannot place (unknown names, choice types without a type suffix) are left to the
 * validator.
 */
export function shapeIssues(resource: Resource, limit = 100): Issue[] {
  const budget = budgetIssues(resource, resource.resourceType);
  if (budget.length) return budget;
  const schema = tryGetDataType(resource.resourceType);
  const issues: Issue[] = [];
  if (schema)
    walk(resource as unknown as Record<string, unknown>, schema, resource.resourceType, issues, limit);
  return issues;
}

/** The element a JSON property names, and its type: `valueString` names `value[x]` as a string. */
function elementOf(
  schema: InternalTypeSchema,
  key: string,
): { element: InternalSchemaElement; type: string | undefined } | undefined {
  // Own keys only: `toString` or `valueOf` sent as a key is not an element of every type.
  if (Object.hasOwn(schema.elements, key)) {
    const element = schema.elements[key] as InternalSchemaElement;
    return { element, type: element.type.length === 1 ? element.type[0]?.code : undefined };
  }
  for (const [name, element] of Object.entries(schema.elements)) {
    if (!name.endsWith('[x]') || !key.startsWith(name.slice(0, -3))) continue;
    const suffix = key.slice(name.length - 3);
    const type = element.type.find((t) => t.code.charAt(0).toUpperCase() + t.code.slice(1) === suffix);
    if (type) return { element, type: type.code };
  }
  return undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function walk(
  value: Record<string, unknown>,
  schema: InternalTypeSchema,
  path: string,
  issues: Issue[],
  limit: number,
): void {
  for (const [key, child] of Object.entries(value)) {
    if (issues.length >= limit) return;
    if (key.length > 1 && key.startsWith('_')) {
      siblingIssues(value, key, child, schema, path, issues, limit);
      continue;
    }
    const found = elementOf(schema, key);
    const type = found?.type;
    if (!found || !type || key === 'resourceType' || child === null || child === undefined) continue;
    const { element } = found;
    const at = `${path}.${key}`;
    const many = element.isArray || element.max > 1;
    if (many !== Array.isArray(child)) {
      issues.push(wrong(at, many ? 'an array' : 'a single value, not an array'));
      continue;
    }
    const items = Array.isArray(child) ? child : [child];
    const sibling = value[`_${key}`];
    for (const [i, item] of items.entries()) {
      const itemAt = many ? `${at}[${i}]` : at;
      if (isPrimitiveType(type)) {
        const expected = JSON_TYPE_OF[type] ?? 'string';
        // FHIR JSON: a null in a primitive array stands for a value given only by its `_element`.
        const extensionOnly = item === null && Array.isArray(sibling) && isObject(sibling[i]);
        if (typeof item !== expected && !extensionOnly)
          issues.push(wrong(itemAt, `a ${type} (a JSON ${expected})`));
      } else if (!isObject(item)) {
        issues.push(wrong(itemAt, `an object (${type})`));
      } else {
        const inner = innerSchema(schema, element.path, type, item);
        if (inner) walk(item, inner, itemAt, issues, limit);
      }
      if (issues.length >= limit) return;
    }
  }
}

/**
 * The `_element` sibling `key` of a primitive element: an object (an Element: its id and
 * extensions), or for a primitive array an array of such objects or nulls, as long as the array
 * it lines up with. Only primitive elements have one.
 */
function siblingIssues(
  value: Record<string, unknown>,
  key: string,
  sibling: unknown,
  schema: InternalTypeSchema,
  path: string,
  issues: Issue[],
  limit: number,
): void {
  const name = key.slice(1);
  const found = elementOf(schema, name);
  if (!found?.type || sibling === null || sibling === undefined) return;
  const at = `${path}.${key}`;
  if (!isPrimitiveType(found.type)) {
    issues.push(
      wrong(at, `no ${key}: only an element of a primitive type has one, and ${name} is a ${found.type}`),
    );
    return;
  }
  if (!(found.element.isArray || found.element.max > 1)) {
    if (!isObject(sibling)) issues.push(wrong(at, 'an object (Element: id and extension)'));
    else elementIssues(sibling, at, issues, limit);
    return;
  }
  if (!Array.isArray(sibling)) {
    issues.push(wrong(at, 'an array of objects (Element: id and extension) or nulls'));
    return;
  }
  const values = value[name];
  if (Array.isArray(values) && values.length !== sibling.length) {
    issues.push(
      wrong(at, `an array as long as ${name} (${values.length}), each item lining up with its value`),
    );
    return;
  }
  for (const [i, item] of sibling.entries()) {
    if (issues.length >= limit) return;
    if (item === null) continue;
    if (!isObject(item)) issues.push(wrong(`${at}[${i}]`, 'an object (Element: id and extension) or null'));
    else elementIssues(item, `${at}[${i}]`, issues, limit);
  }
}

/**
 * An `_element` object holds an id and extensions and nothing else: Medplum's validator copies
 * its keys onto the primitive's value, and a key such as "3" on a string of four or more
 * characters makes that copy throw.
 */
function elementIssues(value: Record<string, unknown>, at: string, issues: Issue[], limit: number): void {
  const other = Object.keys(value).find((key) => key !== 'id' && key !== 'extension');
  if (other !== undefined) {
    const name = other.length > 64 ? `${other.slice(0, 64)}…` : other;
    issues.push(wrong(`${at}.${name}`, 'nothing else: an _element object holds only id and extension'));
    return;
  }
  walk(value, getDataType('Element'), at, issues, limit);
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
