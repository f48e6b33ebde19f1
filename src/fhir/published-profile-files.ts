import { readFile } from 'node:fs/promises';
import type { StructureDefinition } from '@medplum/fhirtypes';
import type { PublishedProfileSource } from './published-profiles.ts';

const GENERATED = new URL('../../profiles/generated/', import.meta.url);

/**
 * The published profiles read from profiles/generated/ (Node only), each parsed once. Only the
 * names the contract asks for reach here: it asks for profiles it publishes, by their file names.
 */
export function publishedProfileFiles(directory: URL = GENERATED): PublishedProfileSource {
  const cache = new Map<string, Promise<StructureDefinition | undefined>>();
  return (fileName) => {
    let found = cache.get(fileName);
    if (!found) {
      found = readFile(new URL(fileName, directory), 'utf8').then(
        (text) => JSON.parse(text) as StructureDefinition,
        () => undefined,
      );
      cache.set(fileName, found);
    }
    return found;
  };
}
