import { capitalize, type InternalTypeSchema, tryGetDataType } from '@medplum/core';
import type { Coding, Resource } from '@medplum/fhirtypes';
import conformanceElements from './definitions/conformance-elements.json' with { type: 'json' };
import { FhirError } from './outcomes.ts';
import { assertReadParams } from './search-values.ts';

/** R4: a resource with elements left out carries this tag (https://hl7.org/fhir/R4/search.html#summary). */
export const SUBSETTED: Coding = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'SUBSETTED',
  display: 'subsetted',
};

/** What a caller asked to be left out: `_summary` and `_elements`. */
export interface Subset {
  summary?: 'true' | 'text' | 'data' | 'count' | 'false';
  elements?: string[];
}

const SUMMARY_VALUES = ['true', 'text', 'data', 'count', 'false'] as const;

/** What an `_elements` name may look like: a top-level element, never a path. */
const ELEMENT_NAME = /^[a-z][A-Za-z0-9]*$/;

/**
 * Reads `_summary` and `_elements` for a resource of `type`; an unknown `_summary`, both
 * together, or an `_elements` name that is not a top-level element of the type is malformed.
 */
export function parseSubset(params: URLSearchParams, forSearch: boolean, type: string): Subset {
  const summary = params.getAll('_summary');
  const elements = params.getAll('_elements');
  const issue = (diagnostics: string, at: string) =>
    new FhirError('malformed', [{ code: 'invalid', diagnostics, expression: [at] }]);
  if (summary.length > 1) throw issue('_summary is given once', '_summary');
  const value = summary[0];
  if (value !== undefined && !(SUMMARY_VALUES as readonly string[]).includes(value)) {
    throw issue(`_summary is one of ${SUMMARY_VALUES.join(', ')}`, '_summary');
  }
  if (value === 'count' && !forSearch) throw issue('_summary=count applies to searches only', '_summary');
  if (value !== undefined && value !== 'false' && elements.length) {
    throw issue('_summary and _elements cannot be used together', '_elements');
  }
  const schema = elementsOf(type);
  const names = elements
    .flatMap((e) => e.split(','))
    .map((e) => e.trim())
    .filter(Boolean)
    .map((name) => {
      const element = ELEMENT_NAME.test(name) ? schema?.elementOf(name) : undefined;
      if (!element) throw issue(`_elements names top-level elements of ${type}`, '_elements');
      return element;
    });
  return {
    ...(value ? { summary: value as Subset['summary'] } : {}),
    ...(names.length ? { elements: names } : {}),
  };
}

/** Checks a read's query (nothing but what shapes the answer) and reads its subset. */
export function readSubset(type: string, params: URLSearchParams): Subset {
  assertReadParams(params);
  return parseSubset(params, false, type);
}

/** A resource as a read answers it: with only the elements `_summary` or `_elements` ask for. */
export function asRead<T extends Resource>(resource: T, params: URLSearchParams): T {
  return applySubset(resource, readSubset(resource.resourceType, params));
}

/** Whether the subset leaves anything out. */
export const isSubset = (subset: Subset): boolean =>
  Boolean(subset.elements?.length) || (subset.summary !== undefined && subset.summary !== 'false');

/**
 * The resource with only what was asked for: `_elements` keeps the named top-level elements,
 * `_summary=true` those the definition marks as summary, `text` the narrative and mandatory
 * elements, `data` everything but the narrative. `id`, `meta` and mandatory elements always stay,
 * and a subset is tagged SUBSETTED so that no one takes it for the whole.
 */
export function applySubset<T extends Resource>(resource: T, subset: Subset): T {
  if (!isSubset(subset) || subset.summary === 'count') return resource;
  const schema = elementsOf(resource.resourceType);
  const mandatory = new Set(['resourceType', 'id', 'meta', ...(schema?.mandatory ?? [])]);
  let keep: (element: string) => boolean;
  if (subset.elements) {
    const named = new Set(subset.elements);
    keep = (element) => mandatory.has(element) || named.has(element);
  } else if (subset.summary === 'true') {
    const summary = schema?.summary ?? new Set<string>();
    keep = (element) => mandatory.has(element) || summary.has(element);
  } else if (subset.summary === 'text') {
    keep = (element) => mandatory.has(element) || element === 'text';
  } else {
    keep = (element) => element !== 'text';
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    // `deceasedBoolean` and `_birthDate` go with their elements, `deceased` and `birthDate`.
    const name = key.startsWith('_') ? key.slice(1) : key;
    if (keep(schema?.elementOf(name) ?? key)) out[key] = value;
  }
  const tags = (resource.meta?.tag ?? []).filter(
    (t) => !(t.system === SUBSETTED.system && t.code === SUBSETTED.code),
  );
  out.meta = { ...resource.meta, tag: [...tags, SUBSETTED] };
  return out as T;
}

/** What subsetting needs to know of a type: its top-level elements, the summary and mandatory ones. */
interface TypeElements {
  /** The element a JSON key or an `_elements` name stands for, if it is one of the type. */
  elementOf(name: string): string | undefined;
  summary: ReadonlySet<string>;
  mandatory: ReadonlySet<string>;
}

const CONFORMANCE = conformanceElements as Record<
  string,
  { elements: string[]; summary: string[]; mandatory: string[] }
>;

/**
 * The served types from their indexed definitions; the published conformance resources, whose
 * definitions are not indexed, from the table built beside them (npm run build:definitions).
 */
function elementsOf(type: string): TypeElements | undefined {
  const schema = tryGetDataType(type);
  if (schema) {
    return {
      elementOf: (name) => elementOf(schema, name),
      summary: schema.summaryProperties ?? new Set(),
      mandatory: new Set(schema.mandatoryProperties ?? []),
    };
  }
  const table = Object.hasOwn(CONFORMANCE, type) ? CONFORMANCE[type] : undefined;
  if (!table) return undefined;
  return {
    elementOf: (name) => (table.elements.includes(name) ? name : undefined),
    summary: new Set(table.summary),
    mandatory: new Set(table.mandatory),
  };
}

/**
 * The top-level element a JSON key or an `_elements` name stands for, as the definitions name it
 * in their summary and mandatory lists: a choice element by its name without `[x]`, whichever
 * type its key carries.
 */
function elementOf(schema: InternalTypeSchema, name: string): string | undefined {
  if (schema.elements[name] || schema.elements[`${name}[x]`]) return name;
  for (const [path, element] of Object.entries(schema.elements)) {
    if (!path.endsWith('[x]')) continue;
    const base = path.slice(0, -3);
    const typed = name.startsWith(base) ? name.slice(base.length) : undefined;
    if (typed && element.type.some((t) => capitalize(t.code) === typed)) return base;
  }
  return undefined;
}
