import type { BundleEntry, Resource } from '@medplum/fhirtypes';
import { Failures } from '../fhir/outcomes.ts';
import type { FhirStore } from '../medplum/store.ts';

/**
 * Entries a transaction may hold when any is conditional: Medplum refuses a transaction that
 * needs strict isolation with more than 8 entries (`maxSerializableTransactionEntries`).
 */
export const MAX_CONDITIONAL_ENTRIES = 8;

/** What one entry became: the stored resource, and whether this write created it. */
export interface WrittenEntry {
  resource: Resource;
  created: boolean;
}

/**
 * Writes entries that name each other by `urn:uuid:` as few transactions as the store allows,
 * in an order where every entry comes after those it names, with the names of entries already
 * written replaced by their `Type/id`. Each transaction is all or nothing where the store is
 * transactional; when it is not, or when an outcome is unclear, the failure is raised and nothing
 * is undone: the entries are conditional creates, so writing them all again completes the set.
 */
export async function writeInSteps(
  store: FhirStore,
  entries: readonly BundleEntry[],
  what: string,
): Promise<Map<string, WrittenEntry>> {
  const written = new Map<string, WrittenEntry>();
  const ordered = dependencyOrder(entries);
  for (let start = 0; start < ordered.length; start += MAX_CONDITIONAL_ENTRIES) {
    const step = ordered
      .slice(start, start + MAX_CONDITIONAL_ENTRIES)
      .map((e) => withWrittenNames(e, written));
    const response = await store.bundle({ resourceType: 'Bundle', type: 'transaction', entry: step });
    const results = response.entry ?? [];
    if (results.length !== step.length) throw Failures.incompleteWrite(what);
    step.forEach((entry, i) => {
      const result = results[i];
      const status = result?.response?.status ?? '';
      if (!status.startsWith('2') || !result?.resource?.id) throw Failures.incompleteWrite(what);
      written.set(entry.fullUrl as string, { resource: result.resource, created: status.startsWith('201') });
    });
  }
  return written;
}

/** The `urn:uuid:` names an entry's resource uses. */
function namesUsed(entry: BundleEntry): string[] {
  return [...JSON.stringify(entry.resource ?? {}).matchAll(/"reference":"(urn:uuid:[^"]+)"/g)].map(
    (m) => m[1] as string,
  );
}

/** The entries, each after those it names (in the order given where nothing says otherwise). */
function dependencyOrder(entries: readonly BundleEntry[]): BundleEntry[] {
  const byName = new Map(entries.filter((e) => e.fullUrl).map((e) => [e.fullUrl as string, e]));
  const placed = new Set<BundleEntry>();
  const visiting = new Set<BundleEntry>();
  const ordered: BundleEntry[] = [];
  const place = (entry: BundleEntry) => {
    if (placed.has(entry) || visiting.has(entry)) return;
    visiting.add(entry);
    for (const name of namesUsed(entry)) {
      const target = byName.get(name);
      if (target) place(target);
    }
    visiting.delete(entry);
    placed.add(entry);
    ordered.push(entry);
  };
  for (const entry of entries) place(entry);
  return ordered;
}

/** A copy of the entry whose references to entries already written use their `Type/id`. */
function withWrittenNames(entry: BundleEntry, written: ReadonlyMap<string, WrittenEntry>): BundleEntry {
  if (!namesUsed(entry).some((name) => written.has(name))) return entry;
  const copy = structuredClone(entry);
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) for (const item of node) visit(item);
    else if (typeof node === 'object' && node !== null) {
      const record = node as Record<string, unknown>;
      const target = typeof record.reference === 'string' ? written.get(record.reference) : undefined;
      if (target) record.reference = `${target.resource.resourceType}/${target.resource.id}`;
      for (const value of Object.values(record)) visit(value);
    }
  };
  visit(copy.resource);
  return copy;
}
