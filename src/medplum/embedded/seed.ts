import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle } from '@medplum/fhirtypes';
import type { FhirStore } from '../store.ts';
import type { EmbeddedRepository } from './repository.ts';

/** The reference data a new user needs: the organisations referrals are sent between. */
export const SEED_DIR = new URL('../../../examples/seed/', import.meta.url);

/**
 * Loads every transaction Bundle in `examples/seed/` into the store, in file-name order, and
 * returns how many resources were written.
 */
export async function seedEmbeddedStore(store: FhirStore, dir: URL = SEED_DIR): Promise<number> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  let written = 0;
  for (const file of files) {
    const bundle = JSON.parse(await readFile(join(fileURLToPath(dir), file), 'utf8')) as Bundle;
    const response = await store.bundle(bundle);
    written += response.entry?.length ?? 0;
  }
  return written;
}

const SEEDED = 'seeded-at';

/**
 * Seeds a new store and records that it did, so that a store kept on disk is seeded on its first
 * start only. Returns how many resources were written, or undefined when it was seeded before.
 */
export async function seedOnce(
  store: FhirStore,
  repo: EmbeddedRepository,
  dir: URL = SEED_DIR,
): Promise<number | undefined> {
  if (repo.getMeta(SEEDED)) return undefined;
  const written = await seedEmbeddedStore(store, dir);
  repo.setMeta(SEEDED, new Date().toISOString());
  return written;
}
