import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { call, createTestApp, type TestApp } from './app.ts';

/** The body of an example request in `examples/referrals/`. */
export function exampleBody<T = Bundle>(name: string): T {
  const path = new URL(`../../examples/referrals/${name}.request.json`, import.meta.url);
  return JSON.parse(readFileSync(path, 'utf8')).body as T;
}

/** ../shared beside the project (CI has it there too), or wherever SHARED_DIR points. */
const SHARED_DIR = process.env.SHARED_DIR ?? fileURLToPath(new URL('../../../shared/', import.meta.url));

/** Where the published third-party examples are (when they are there at all). */
export const THIRD_PARTY_DIR = join(SHARED_DIR, 'third-party-examples');

/**
 * Why the published third-party examples cannot be read here, or undefined when they can: a
 * clone of this project has no ../shared beside it, and the tests that use them then skip, saying so.
 */
export const THIRD_PARTY_ABSENT: string | undefined = existsSync(join(SHARED_DIR, 'third-party-examples'))
  ? undefined
  : `skipped: ${join(SHARED_DIR, 'third-party-examples')} is absent (set SHARED_DIR to a folder holding third-party-examples/)`;

/** A published third-party example from ../shared/third-party-examples (never copied here). */
export function thirdParty<T = Bundle>(file: string): T {
  return JSON.parse(readFileSync(join(SHARED_DIR, 'third-party-examples', file), 'utf8')) as T;
}

/** A test app on a fresh embedded store holding the seed organisations and service. */
export async function seededApp(
  env: Record<string, string> = {},
  overrides: Parameters<typeof createTestApp>[1] = {},
): Promise<TestApp> {
  const test = createTestApp(env, overrides);
  await seedEmbeddedStore(test.store);
  return test;
}

export async function all<T extends Resource>(
  store: FhirStore,
  type: ResourceType,
  query: Record<string, string> = {},
): Promise<T[]> {
  const bundle = await store.search(type, { _count: '1000', ...query });
  return (bundle.entry ?? []).map((e) => e.resource as T);
}

/** How many of each referral and directory resource type are stored. */
export async function counts(store: FhirStore): Promise<Record<string, number>> {
  const types: ResourceType[] = [
    'Patient',
    'Practitioner',
    'PractitionerRole',
    'Organization',
    'HealthcareService',
    'Location',
    'ServiceRequest',
    'Task',
    'Consent',
    'Provenance',
    'Condition',
    'QuestionnaireResponse',
  ];
  const result: Record<string, number> = {};
  for (const type of types) result[type] = (await all(store, type)).length;
  return result;
}

export function postBundle(app: TestApp['app'], body: unknown, headers: Record<string, string> = {}) {
  return call(app, '/fhir', { body, headers });
}

/** The store with a delay on every call, as a remote Medplum would have: lets concurrent requests interleave. */
export function withLatency(store: FhirStore, ms = 3): FhirStore {
  const wait = () => new Promise((resolve) => setTimeout(resolve, ms));
  const delayed =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A) => {
      await wait();
      return fn(...args);
    };
  return {
    read: delayed(store.read) as FhirStore['read'],
    readVersion: delayed(store.readVersion) as FhirStore['readVersion'],
    history: delayed(store.history),
    search: delayed(store.search),
    create: delayed(store.create) as FhirStore['create'],
    update: delayed(store.update) as FhirStore['update'],
    delete: delayed(store.delete),
    bundle: delayed(store.bundle),
    ping: delayed(store.ping),
  };
}

/** The id of the entry of this type in a transaction-response (from its `Location`). */
export function idInAnswer(answer: Bundle, type: string): string {
  const location = answer.entry?.map((e) => e.response?.location ?? '').find((l) => l.startsWith(`${type}/`));
  return location?.split('/')[1] as string;
}
