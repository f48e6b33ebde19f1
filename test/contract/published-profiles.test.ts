import { describe, expect, it } from 'vitest';
import { isAssetsBinding, publishedProfileAssets } from '../../src/edge/published-profile-assets.ts';
import { publishedProfileFiles } from '../../src/fhir/published-profile-files.ts';
import { NO_PUBLISHED_PROFILES, publishedProfileFile } from '../../src/fhir/published-profiles.ts';
import { readProfile } from '../../src/resources/contract.ts';

const ID = 'social-prescribing-referral';

describe('the published profiles', () => {
  it('are read from profiles/generated/ on Node, in full', async () => {
    const profile = await readProfile(ID, publishedProfileFiles());
    expect(profile.id).toBe(ID);
    expect(profile.differential?.element.length).toBeGreaterThan(0);
    expect(profile.description).toBeDefined();
  });

  it('fall back to the slim copy, same url and version, when the file is not there', async () => {
    const full = await readProfile(ID, publishedProfileFiles());
    const slim = await readProfile(ID, NO_PUBLISHED_PROFILES);
    expect(slim.url).toBe(full.url);
    expect(slim.version).toBe(full.version);
    expect(slim.differential).toBeUndefined();
    expect(slim.snapshot?.element.length).toBeGreaterThan(10);
    const missingDirectory = publishedProfileFiles(new URL('file:///nowhere/at/all/'));
    expect((await readProfile(ID, missingDirectory)).differential).toBeUndefined();
  });

  it('never serves a file under a profile id it does not publish', async () => {
    const asked: string[] = [];
    const source = async (name: string) => {
      asked.push(name);
      return undefined;
    };
    await expect(readProfile('../../package', source)).rejects.toMatchObject({ kind: 'not-found' });
    await expect(readProfile('nothing', source)).rejects.toMatchObject({ kind: 'not-found' });
    expect(asked).toEqual([]);
  });

  it('serves a file whose url is another profile as the slim copy', async () => {
    const wrong = async () =>
      ({ resourceType: 'StructureDefinition', url: 'https://elsewhere.example/x' }) as never;
    const served = await readProfile(ID, wrong);
    expect(served.url).toMatch(/social-prescribing-referral$/);
  });
});

describe('the published profiles on Workers, from static assets', () => {
  const file = publishedProfileFile(ID);

  it('are fetched through the binding, once per isolate', async () => {
    const requests: string[] = [];
    const assets = {
      fetch: async (request: Request) => {
        requests.push(new URL(request.url).pathname);
        return Response.json({ resourceType: 'StructureDefinition', id: ID });
      },
    };
    expect(isAssetsBinding(assets)).toBe(true);
    const source = publishedProfileAssets(assets);
    expect((await source(file))?.id).toBe(ID);
    expect((await source(file))?.id).toBe(ID);
    expect(requests).toEqual([`/${file}`]);
  });

  it('answer nothing (and ask again next time) for a missing file or a failing binding', async () => {
    let calls = 0;
    const missing = publishedProfileAssets({
      fetch: async () => {
        calls++;
        return new Response('not found', { status: 404 });
      },
    });
    expect(await missing(file)).toBeUndefined();
    expect(await missing(file)).toBeUndefined();
    expect(calls).toBe(2);
    const failing = publishedProfileAssets({
      fetch: async () => {
        throw new Error('assets unavailable');
      },
    });
    expect(await failing(file)).toBeUndefined();
    const garbled = publishedProfileAssets({ fetch: async () => new Response('{not json') });
    expect(await garbled(file)).toBeUndefined();
    expect(isAssetsBinding(undefined)).toBe(false);
    expect(isAssetsBinding({})).toBe(false);
  });
});
