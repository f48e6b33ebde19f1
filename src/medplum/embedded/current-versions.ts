import type { Resource } from '@medplum/fhirtypes';
import type { CurrentRow, JournalChange } from './journal.ts';
import { SearchIndex } from './search-index.ts';

/** What one write or transaction changed, so that it can be undone in memory if it fails. */
export interface PendingWrite {
  changes: JournalChange[];
  undo: { type: string; id: string; previous: Resource | undefined; ordinal: number | undefined }[];
}

/**
 * The current version of every resource, held in memory with its creation ordinal (the order
 * unsorted searches return), and the {@link SearchIndex} kept in step with it on every change.
 */
export class CurrentVersions {
  private readonly resources = new Map<string, Map<string, Resource>>();
  private readonly ordinals = new Map<string, number>();
  private nextOrdinal = 1;
  /** Secondary indexes over these versions. */
  readonly index = new SearchIndex((type) => this.resources.get(type) ?? new Map());

  /** Loads the versions the journal holds as current, in creation order. */
  constructor(rows: Iterable<CurrentRow>) {
    for (const row of rows) {
      this.typeMap(row.type).set(row.id, JSON.parse(row.content) as Resource);
      this.ordinals.set(key(row.type, row.id), row.ordinal);
      this.nextOrdinal = Math.max(this.nextOrdinal, row.ordinal + 1);
    }
  }

  /** The stored current version (not a copy), or undefined when there is none. */
  get(type: string, id: string): Resource | undefined {
    return this.resources.get(type)?.get(id);
  }

  /** Every current version of one type, keyed by id. */
  ofType(type: string): ReadonlyMap<string, Resource> {
    return this.resources.get(type) ?? new Map<string, Resource>();
  }

  /** Where the resource was first created relative to the others (0 if unknown). */
  ordinalOf(resource: Resource): number {
    return this.ordinals.get(key(resource.resourceType, resource.id as string)) ?? 0;
  }

  /**
   * Makes `next` the current version (or removes the resource when undefined), recording the
   * journal change and how to undo it in `pending`.
   */
  apply(
    pending: PendingWrite,
    type: string,
    id: string,
    next: Resource | undefined,
    removal: 'delete' | 'expunge' = 'delete',
  ): void {
    const previous = this.resources.get(type)?.get(id);
    const ordinal = this.ordinals.get(key(type, id));
    pending.undo.push({ type, id, previous, ordinal });
    if (next) {
      const nextOrdinal = ordinal ?? this.nextOrdinal++;
      this.setCurrent(type, id, next, nextOrdinal);
      pending.changes.push({
        kind: 'put',
        type,
        id,
        ordinal: nextOrdinal,
        versionId: next.meta?.versionId as string,
        content: JSON.stringify(next),
      });
    } else {
      this.setCurrent(type, id, undefined, undefined);
      pending.changes.push({ kind: removal, type, id });
    }
  }

  /** Restores every version `pending` replaced, newest change first. */
  rollback(pending: PendingWrite): void {
    for (const { type, id, previous, ordinal } of pending.undo.reverse()) {
      this.setCurrent(type, id, previous, ordinal);
    }
  }

  private setCurrent(
    type: string,
    id: string,
    resource: Resource | undefined,
    ordinal: number | undefined,
  ): void {
    const map = this.typeMap(type);
    if (resource && ordinal !== undefined) {
      map.set(id, resource);
      this.ordinals.set(key(type, id), ordinal);
    } else {
      map.delete(id);
      this.ordinals.delete(key(type, id));
    }
    this.index.write(type, id, resource);
  }

  private typeMap(type: string): Map<string, Resource> {
    let map = this.resources.get(type);
    if (!map) {
      map = new Map();
      this.resources.set(type, map);
    }
    return map;
  }
}

const key = (type: string, id: string) => `${type}/${id}`;
