/**
 * Puts the directory of `examples/seed/` (organisations, services) into a FHIR store, idempotently:
 * every resource is a conditional create, so a second run finds what the first stored and adds
 * nothing. Used by `npm run seed` against a real Medplum, and by the remote-Medplum tests.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, BundleEntry, Identifier, Resource } from '@medplum/fhirtypes';
import type { FhirStore } from '../src/medplum/store.ts';

export const SEED_DIR = new URL('../examples/seed/', import.meta.url);

/** What happened to one resource of the directory. */
export interface SeedOutcome {
  file: string;
  /** `Type/id` in the store. */
  reference: string;
  /** 201: created now; 200: found, as stored before. */
  created: boolean;
  /** The search it was matched by. */
  criterion: string;
}

/**
 * Loads every Bundle in `dir`, in file-name order, one conditional create at a time (each a
 * transaction of one entry), each after the ones it names: an entry's `urn:uuid` references,
 * in its resource and its criterion, become the stored ids of the entries before it. An entry is
 * matched by its `request.ifNoneExist`, else by its first identifier, else (a HealthcareService
 * without one) by its exact name and the organisation providing it.
 */
export async function seedDirectory(store: FhirStore, dir: URL = SEED_DIR): Promise<SeedOutcome[]> {
  const outcomes: SeedOutcome[] = [];
  const files = readdirSync(fileURLToPath(dir))
    .filter((f) => f.endsWith('.json'))
    .sort();
  for (const file of files) {
    const bundle = JSON.parse(readFileSync(join(fileURLToPath(dir), file), 'utf8')) as Bundle;
    const stored = new Map<string, string>();
    for (const [i, entry] of (bundle.entry ?? []).entries()) {
      if (!entry.resource) throw new Error(`${file}: entry ${i} has no resource`);
      const resource = resolve(entry.resource, stored);
      const unresolved = /urn:uuid:[0-9a-f-]{36}/.exec(JSON.stringify(resource))?.[0];
      if (unresolved) throw new Error(`${file}: entry ${i} names ${unresolved}, which no entry before it is`);
      const criterion = resolve(entry.request?.ifNoneExist ?? criterionFor(resource), stored);
      if (!criterion) {
        throw new Error(
          `${file}: entry ${i} (${resource.resourceType}) has nothing to match it by: give it an identifier or request.ifNoneExist`,
        );
      }
      const outcome = await createIfNoneExist(store, resource, criterion, `${file}: entry ${i}`);
      if (entry.fullUrl) stored.set(entry.fullUrl, outcome.reference);
      outcomes.push({ file, criterion, ...outcome });
    }
  }
  return outcomes;
}

/** The search that finds a resource already stored, from what the resource says of itself. */
function criterionFor(resource: Resource): string | undefined {
  const identifiers: Identifier[] = 'identifier' in resource ? [resource.identifier ?? []].flat() : [];
  const identifier = identifiers.find((i) => i.system && i.value);
  if (identifier) return `identifier=${identifier.system}|${identifier.value}`;
  if (resource.resourceType === 'HealthcareService' && resource.name && resource.providedBy?.reference) {
    return `organization=${resource.providedBy.reference}&name:exact=${encodeURIComponent(resource.name)}`;
  }
  return undefined;
}

async function createIfNoneExist(
  store: FhirStore,
  resource: Resource,
  criterion: string,
  what: string,
): Promise<{ reference: string; created: boolean }> {
  const response = await store.bundle({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [{ resource, request: { method: 'POST', url: resource.resourceType, ifNoneExist: criterion } }],
  });
  const answer: BundleEntry['response'] = response.entry?.[0]?.response;
  const status = Number.parseInt(answer?.status ?? '', 10);
  // Medplum names the resource `Type/id` (a version may follow); the resource itself is also sent.
  const [type, id] = (answer?.location ?? '').split('/');
  const reference =
    type && id ? `${type}/${id}` : `${resource.resourceType}/${response.entry?.[0]?.resource?.id}`;
  if ((status !== 200 && status !== 201) || reference.endsWith('/undefined')) {
    throw new Error(`${what}: the store answered ${answer?.status ?? 'without a status'}`);
  }
  return { reference, created: status === 201 };
}

/** A copy of `value` with every `urn:uuid` reference already stored replaced by its `Type/id`. */
function resolve<T>(value: T, stored: ReadonlyMap<string, string>): T {
  if (value === undefined || stored.size === 0) return value;
  return JSON.parse(
    JSON.stringify(value).replace(/urn:uuid:[0-9a-f-]{36}/g, (urn) => stored.get(urn) ?? urn),
  ) as T;
}
