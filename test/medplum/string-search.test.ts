import { parseSearchRequest } from '@medplum/core';
import type { Organization, Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { EmbeddedRepository } from '../../src/medplum/embedded/repository.ts';
import { foldText } from '../../src/medplum/embedded/text-and-identifier.ts';

let repo: EmbeddedRepository;
beforeAll(async () => {
  indexDefinitions();
  repo = EmbeddedRepository.open();
  await repo.createResource<Organization>({
    resourceType: 'Organization',
    name: 'Riverside Medical Practice',
  });
  await repo.createResource<Organization>({ resourceType: 'Organization', name: 'HTTP Works' });
  await repo.createResource<Organization>({ resourceType: 'Organization', name: 'http' });
  await repo.createResource<Patient>({
    resourceType: 'Patient',
    name: [{ use: 'official', family: 'Bell', given: ['Joséphine'] }],
    address: [{ line: ['12 Mill Lane'], city: 'Riverside' }],
  });
});
afterAll(() => repo.close());

const names = async (type: string, query: Record<string, string>) =>
  ((await repo.search(parseSearchRequest(type, query))).entry ?? []).map((e) =>
    e.resource?.resourceType === 'Patient' ? e.resource.name?.[0]?.family : (e.resource as Organization).name,
  );

describe('string search on the embedded store, as FHIR defines it and Medplum on Postgres answers', () => {
  it('matches from the start of a value, ignoring case and accents, not inside it', async () => {
    expect(await names('Organization', { name: 'river' })).toEqual(['Riverside Medical Practice']);
    expect(await names('Organization', { name: 'iverside' })).toEqual([]);
    expect(await names('Patient', { given: 'josephine' })).toEqual(['Bell']);
    expect(await names('Patient', { family: 'ell' })).toEqual([]);
    expect(await names('Patient', { family: 'BE' })).toEqual(['Bell']);
    expect(await names('Patient', { 'address-city': 'iversid' })).toEqual([]);
    expect(await names('Patient', { 'address-city': 'rivers' })).toEqual(['Bell']);
    expect(await names('Patient', { name: 'jos,nobody' })).toEqual(['Bell']);
  });

  it(':exact matches a whole value with its case; :contains anywhere', async () => {
    expect(await names('Organization', { 'name:exact': 'HTTP' })).toEqual([]);
    expect(await names('Organization', { 'name:exact': 'http' })).toEqual(['http']);
    expect(await names('Organization', { 'name:exact': 'HTTP Works' })).toEqual(['HTTP Works']);
    expect(await names('Organization', { 'name:contains': 'iverside' })).toEqual([
      'Riverside Medical Practice',
    ]);
    expect(await names('Patient', { 'family:contains': 'ell' })).toEqual(['Bell']);
  });

  it('folds case and accents', () => {
    expect(foldText('JOSÉPHINE Øre')).toBe('josephine øre');
  });
});

describe('the fake of a real Medplum matches strings and identifiers as Postgres does', () => {
  it('prefix, :exact with case, :contains, identifiers with their case', async () => {
    const { fakeMedplum } = await import('../support/medplum-handlers.ts');
    const { searchMatching } = await import('../support/medplum-search.ts');
    const fake = fakeMedplum('https://fake-strings.test/');
    fake.repo.seed({ resourceType: 'Organization', id: 'o1', name: 'Northbrook Library' });
    fake.repo.seed({
      resourceType: 'Organization',
      id: 'o2',
      name: 'Riverside',
      identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'SPX01' }],
    });
    const ids = (query: Record<string, string>) =>
      searchMatching(fake.repo, parseSearchRequest('Organization', query)).map((r) => r.id);
    expect(ids({ name: 'north' })).toEqual(['o1']);
    expect(ids({ name: 'Library' })).toEqual([]);
    expect(ids({ 'name:contains': 'Library' })).toEqual(['o1']);
    expect(ids({ 'name:exact': 'riverside' })).toEqual([]);
    expect(ids({ 'name:exact': 'Riverside' })).toEqual(['o2']);
    expect(ids({ identifier: 'https://fhir.nhs.uk/Id/ods-organization-code|SPX01' })).toEqual(['o2']);
    expect(ids({ identifier: 'https://fhir.nhs.uk/Id/ods-organization-code|spx01' })).toEqual([]);
  });
});
