import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSearchRequest } from '@medplum/core';
import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { DataDirectoryInUseError } from '../../src/medplum/embedded/journal.ts';
import { EmbeddedRepository } from '../../src/medplum/embedded/repository.ts';
import { createEmbeddedMedplum } from '../../src/medplum/embedded/server.ts';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const dirs: string[] = [];
const open: EmbeddedRepository[] = [];

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sp-store-'));
  dirs.push(dir);
  return dir;
}

function openAt(dir: string): EmbeddedRepository {
  const repo = EmbeddedRepository.open({ dir });
  open.push(repo);
  return repo;
}

beforeAll(() => indexDefinitions());

afterEach(() => {
  for (const repo of open.splice(0)) repo.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const patient = (n: number): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: NHS, value: String(9990000000 + n) }],
  name: [{ family: `Family${n}` }],
});

async function snapshot(repo: EmbeddedRepository, ids: string[]) {
  const out: Record<string, unknown> = {};
  for (const id of ids) {
    const current = await repo.readResource('Patient', id).catch(() => 'gone');
    const history = await repo.readHistory('Patient', id).catch(() => 'gone');
    out[id] = { current, history };
  }
  out.search = await repo.search(parseSearchRequest('Patient', { _sort: 'identifier' }));
  return out;
}

describe('embedded store on disk', () => {
  it('has every resource, version and history entry back after a restart, and deletions stay deleted', async () => {
    const dir = dataDir();
    const repo = openAt(dir);
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push((await repo.createResource(patient(n))).id);
    const [a, b, c] = ids as [string, string, string];
    const first = await repo.readResource<Patient>('Patient', a);
    await repo.updateResource({ ...first, active: true });
    await repo.patchResource('Patient', a, [{ op: 'add', path: '/gender', value: 'female' }]);
    await repo.updateResource({ ...(await repo.readResource<Patient>('Patient', b)), active: false });
    await repo.deleteResource('Patient', c);
    const before = await snapshot(repo, ids);
    const versions = (await repo.readHistory('Patient', a)).entry?.map((e) => e.resource?.meta?.versionId);
    expect(versions).toHaveLength(3);

    repo.close();
    const reopened = openAt(dir);
    expect(await snapshot(reopened, ids)).toEqual(before);
    for (const versionId of versions ?? []) {
      expect((await reopened.readVersion('Patient', a, versionId as string)).meta?.versionId).toBe(versionId);
    }
    await expect(reopened.readResource('Patient', c)).rejects.toThrow('Not found');
    // Indexes are rebuilt from what was loaded: an identifier search still finds the patient.
    const found = await reopened.search(parseSearchRequest('Patient', { identifier: `${NHS}|9990000001` }));
    expect(found.entry?.map((e) => e.resource?.id)).toEqual([b]);
  });

  it('keeps writing after a restart without reusing positions or losing creation order', async () => {
    const dir = dataDir();
    const repo = openAt(dir);
    const a = await repo.createResource(patient(1));
    repo.close();
    const reopened = openAt(dir);
    const b = await reopened.createResource(patient(2));
    await reopened.updateResource({
      ...(await reopened.readResource<Patient>('Patient', a.id)),
      active: true,
    });
    const all = await reopened.search(parseSearchRequest('Patient', {}));
    expect(all.entry?.map((e) => e.resource?.id)).toEqual([a.id, b.id]);
  });

  it('refuses a second process (or store) on a data directory in use, and opens once it is free', () => {
    const dir = dataDir();
    const repo = openAt(dir);
    expect(() => EmbeddedRepository.open({ dir })).toThrow(DataDirectoryInUseError);
    repo.close();
    expect(() => openAt(dir)).not.toThrow();
  });

  it('applies a transaction Bundle whole or not at all, in memory and on disk', async () => {
    const dir = dataDir();
    const repo = openAt(dir);
    const existing = await repo.createResource(patient(7));
    const medplum = createEmbeddedMedplum(repo);
    const token = (await (
      await medplum.fetch(
        new Request('http://embedded/oauth2/token', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=client_credentials&client_id=a&client_secret=b',
        }),
      )
    ).json()) as { access_token: string };
    const transaction: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:1', resource: patient(8), request: { method: 'POST', url: 'Patient' } },
        {
          resource: { ...existing, active: true },
          request: { method: 'PUT', url: `Patient/${existing.id}`, ifMatch: 'W/"not-the-version"' },
        },
      ],
    };
    const response = await medplum.fetch(
      new Request('http://embedded/fhir/R4', {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${token.access_token}` },
        body: JSON.stringify(transaction),
      }),
    );
    expect(response.status).toBe(412);
    const stored = async (r: EmbeddedRepository) => ({
      patients: (await r.search(parseSearchRequest('Patient', {}))).entry?.map((e) => e.resource?.id),
      versions: (await r.readHistory('Patient', existing.id)).entry?.length,
    });
    expect(await stored(repo)).toEqual({ patients: [existing.id], versions: 1 });
    repo.close();
    expect(await stored(openAt(dir))).toEqual({ patients: [existing.id], versions: 1 });
  });

  it('rejects a write it could not make durable and leaves nothing of it in memory', async () => {
    const repo = EmbeddedRepository.open();
    const kept = await repo.createResource(patient(1));
    repo.close();
    await expect(repo.createResource(patient(2))).rejects.toThrow();
    await expect(repo.updateResource({ ...kept, active: true })).rejects.toThrow();
    const all = await repo.search(parseSearchRequest('Patient', {}));
    expect(all.entry?.map((e) => e.resource as Resource)).toEqual([kept]);
    const byIdentifier = await repo.search(parseSearchRequest('Patient', { identifier: '9990000002' }));
    expect(byIdentifier.entry).toBeUndefined();
  });

  it('makes concurrent conditional creates for one identifier store one resource', async () => {
    const repo = EmbeddedRepository.open();
    open.push(repo);
    const search = () => parseSearchRequest<Patient>('Patient', { identifier: `${NHS}|9990000042` });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => repo.conditionalCreate(patient(42), search())),
    );
    expect(new Set(results.map((r) => r.resource.id)).size).toBe(1);
    expect((await repo.search(search())).total).toBe(1);
  });
});
