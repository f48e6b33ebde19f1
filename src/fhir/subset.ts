import { tryGetDataType } from '@medplum/core';
import type { Coding, Resource } from '@medplum/fhirtypes';
import { FhirError } from './outcomes.ts';

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

/** Reads `_summary` and `_elements`; an unknown `_summary` or both together is malformed. */
export function parseSubset(params: URLSearchParams, forSearch: boolean): Subset {
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
  const names = elements
    .flatMap((e) => e.split(','))
    .map((e) => e.trim())
    .filter(Boolean);
  return {
    ...(value ? { summary: value as Subset['summary'] } : {}),
    ...(names.length ? { elements: names } : {}),
  };
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
  const schema = tryGetDataType(resource.resourceType);
  const mandatory = new Set(['resourceType', 'id', 'meta', ...(schema?.mandatoryProperties ?? [])]);
  let keep: (key: string) => boolean;
  if (subset.elements) {
    const named = new Set(subset.elements);
    keep = (key) => mandatory.has(key) || named.has(key);
  } else if (subset.summary === 'true') {
    const summary = schema?.summaryProperties ?? new Set<string>();
    keep = (key) => mandatory.has(key) || summary.has(key);
  } else if (subset.summary === 'text') {
    keep = (key) => mandatory.has(key) || key === 'text';
  } else {
    keep = (key) => key !== 'text';
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) if (keep(key)) out[key] = value;
  const tags = (resource.meta?.tag ?? []).filter(
    (t) => !(t.system === SUBSETTED.system && t.code === SUBSETTED.code),
  );
  out.meta = { ...resource.meta, tag: [...tags, SUBSETTED] };
  return out as T;
}
