import type { FhirStore } from '../store.ts';
import type { EmbeddedRepository } from './repository.ts';

/** The meta entry naming how the store keeps records of people. */
const RECORD_MODEL = 'record-model';
/** Each organisation keeps its own record of a person (one per organisation and NHS number). */
const PER_ORGANISATION = 'per-organisation';

/**
 * Whether a data directory holds records of people written before each organisation kept its own
 * (one record per person, shared and merged across organisations). Such a store cannot be used
 * as it is: its shared records would still show every organisation's details to the others. A
 * store with no record of a person is marked as the current model and used.
 */
export async function heldLegacyRecords(store: FhirStore, repo: EmbeddedRepository): Promise<boolean> {
  if (repo.getMeta(RECORD_MODEL) === PER_ORGANISATION) return false;
  const people = await store.search('Patient', { _count: '1', _elements: 'id' });
  if ((people.entry?.length ?? 0) > 0) return true;
  repo.setMeta(RECORD_MODEL, PER_ORGANISATION);
  return false;
}
