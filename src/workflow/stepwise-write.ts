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

/** What the caller knows of the entries that the steps must respect. */
export interface StepOptions {
  /**
   * Whether the entry is a create that another writer may make at the same time (a person or an
   * organisation matched on its identifier). Medplum gives a conditional create its id, and points
   * the other entries at it, before its transaction starts; if the create then finds what another
   * writer stored meanwhile, that id is never stored and they point at nothing. Such an entry is
   * written in a transaction before any entry naming it, which then names the id it was stored as.
   */
  settleFirst?: (entry: BundleEntry) => boolean;
}

/**
 * Writes entries that name each other by `urn:uuid:` as few transactions as the store allows,
 * in an order where every entry comes after those it names (in a later transaction than those
 * that settle first), with the names of entries already written replaced by their `Type/id`.
 * Each transaction is all or nothing where the store is transactional; when it is not, or when
 * an outcome is unclear, the failure is raised and nothing is undone: the entries are
 * conditional creates, so writing them all again completes the set.
 */
export async function writeInSteps(
  store: FhirStore,
  entries: readonly BundleEntry[],
  what: string,
  options: StepOptions = {},
): Promise<Map<string, WrittenEntry>> {
  const written = new Map<string, WrittenEntry>();
  for (const transaction of steps(entries, options.settleFirst ?? (() => false))) {
    const step = transaction.map((e) => withWrittenNames(e, written));
    // Every step asks for a store that keeps transactions whole: one that cannot would take the
    // first steps and refuse the rest.
    const response = await store.bundle(
      { resourceType: 'Bundle', type: 'transaction', entry: step },
      { whole: true },
    );
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

/**
 * The entries as transactions: an entry goes in the same one as the entries it names, or a later
 * one, and always a later one than an entry it names that settles first; at most
 * MAX_CONDITIONAL_ENTRIES in each.
 */
function steps(
  entries: readonly BundleEntry[],
  settleFirst: (entry: BundleEntry) => boolean,
): BundleEntry[][] {
  const ordered = dependencyOrder(entries);
  const byName = new Map(entries.filter((e) => e.fullUrl).map((e) => [e.fullUrl as string, e]));
  const level = new Map<BundleEntry, number>();
  for (const entry of ordered) {
    let at = 0;
    for (const name of namesUsed(entry)) {
      const target = byName.get(name);
      const of = target && target !== entry ? level.get(target) : undefined;
      if (target && of !== undefined) at = Math.max(at, settleFirst(target) ? of + 1 : of);
    }
    level.set(entry, at);
  }
  const transactions: BundleEntry[][] = [];
  const levels = [...new Set(level.values())].sort((a, b) => a - b);
  for (const l of levels) {
    const together = ordered.filter((e) => level.get(e) === l);
    for (let start = 0; start < together.length; start += MAX_CONDITIONAL_ENTRIES) {
      transactions.push(together.slice(start, start + MAX_CONDITIONAL_ENTRIES));
    }
  }
  return transactions;
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
