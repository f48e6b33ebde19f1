import type { StructureDefinition } from '@medplum/fhirtypes';

/**
 * Where the full StructureDefinitions (prose, differential and snapshot, as `npm run
 * build:profiles` writes them to profiles/generated/) are read from: files on Node, the Worker's
 * static assets on Workers. They are for readers and are kept out of the Worker's bundle; the
 * service enforces the slim copies in src/fhir/definitions/profiles.json. Answers undefined when
 * the file is not there.
 */
export type PublishedProfileSource = (fileName: string) => Promise<StructureDefinition | undefined>;

/** The file a profile is published in, under profiles/generated/. */
export function publishedProfileFile(id: string): string {
  return `StructureDefinition-${id}.json`;
}

/** A source with nothing in it: readers get the slim copies. */
export const NO_PUBLISHED_PROFILES: PublishedProfileSource = async () => undefined;
