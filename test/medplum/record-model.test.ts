import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { heldLegacyRecords } from '../../src/medplum/embedded/record-model.ts';
import { EmbeddedRepository } from '../../src/medplum/embedded/repository.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openAt(dir: string) {
  const repo = EmbeddedRepository.open({ dir });
  return { repo, store: createEmbeddedStore({ timeoutMs: 5_000, repo }).store };
}

describe('stores written before each organisation kept its own records', () => {
  it('are told apart from new and current ones: a record of a person with no model named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'record-model-'));
    dirs.push(dir);
    // A store as an earlier version left it: a person on record, no model named.
    let { repo, store } = openAt(dir);
    await repo.createResource({ resourceType: 'Patient', identifier: [{ value: '9990000018' }] });
    expect(await heldLegacyRecords(store, repo)).toBe(true);
    expect(await heldLegacyRecords(store, repo)).toBe(true);
    repo.close();

    // A new store is marked as the current model, and stays usable once people are on record.
    const fresh = mkdtempSync(join(tmpdir(), 'record-model-'));
    dirs.push(fresh);
    ({ repo, store } = openAt(fresh));
    expect(await heldLegacyRecords(store, repo)).toBe(false);
    await repo.createResource({ resourceType: 'Patient', identifier: [{ value: '9990000018' }] });
    repo.close();
    ({ repo, store } = openAt(fresh));
    expect(await heldLegacyRecords(store, repo)).toBe(false);
    repo.close();
  });
});
