import type { StructureDefinition } from '@medplum/fhirtypes';
import type { PublishedProfileSource } from '../fhir/published-profiles.ts';

/** The static-assets binding, as much of it as is used here. */
export interface AssetsBinding {
  fetch(request: Request): Promise<Response>;
}

export function isAssetsBinding(value: unknown): value is AssetsBinding {
  return typeof (value as AssetsBinding | undefined)?.fetch === 'function';
}

/**
 * The published profiles served from the Worker's static assets (`[assets]` in wrangler.toml,
 * the profiles/generated/ directory), so the 700 KB of them stay out of the Worker's bundle. A
 * file that is missing or unreadable answers undefined (readers then get the slim copy) and is
 * asked for again next time; one that was read is kept for the isolate's life.
 */
export function publishedProfileAssets(assets: AssetsBinding): PublishedProfileSource {
  const cache = new Map<string, StructureDefinition>();
  return async (fileName) => {
    const cached = cache.get(fileName);
    if (cached) return cached;
    try {
      const response = await assets.fetch(
        new Request(`https://assets.invalid/${encodeURIComponent(fileName)}`),
      );
      if (!response.ok) {
        await response.body?.cancel();
        return undefined;
      }
      const profile = (await response.json()) as StructureDefinition;
      cache.set(fileName, profile);
      return profile;
    } catch {
      return undefined;
    }
  };
}
