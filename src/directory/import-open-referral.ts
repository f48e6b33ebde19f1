import type {
  Bundle,
  BundleEntry,
  HealthcareService,
  Identifier,
  Location,
  Reference,
} from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { Failures, FhirError } from '../fhir/outcomes.ts';
import {
  DEFAULT_FEED_SYSTEMS,
  type FeedSystems,
  feedSystemsOf,
  type MappedRecord,
  mapOpenReferral,
  type RecordKind,
  type RefusedRecord,
  withFeedSystems,
} from '../mapping/open-referral.ts';
import { StoreError } from '../medplum/errors.ts';
import { type FhirStore, searchAll } from '../medplum/store.ts';
import {
  DIRECTORY_IMPORT_LOCK,
  DIRECTORY_TYPES,
  type DirectoryResource,
  type DirectoryType,
  directoryIssues,
  prepareForStore,
  uniqueIdentifiers,
} from './directory-rules.ts';
import {
  batch,
  chunks,
  createEntry,
  mergedInto,
  namedRefs,
  sameContent,
  tokenOf,
  updateEntry,
} from './import-entries.ts';
import type { DirectoryDeps } from './register.ts';

/** What an import did, by record kind. */
export interface ImportCounts {
  created: number;
  updated: number;
  unchanged: number;
  refused: number;
}

export interface ImportSummary {
  total: ImportCounts;
  byKind: Record<RecordKind, ImportCounts>;
  /** Each record not stored, with its ORUK id (or place in the input) and why. */
  refusals: RefusedRecord[];
}

const TYPE_OF: Record<RecordKind, DirectoryType> = {
  organization: 'Organization',
  location: 'Location',
  service: 'HealthcareService',
};
/** Written in this order, so each kind's references name entries already stored. */
const ORDER: readonly RecordKind[] = ['organization', 'location', 'service'];
/** Records (organisations, places, services, refused ones) one import request may hold. */
export const MAX_IMPORT_RECORDS = 2000;
/** Entries per batch written, identifier values per look-up search, and searches per look-up batch. */
const WRITES_PER_BATCH = 100;
const VALUES_PER_SEARCH = 50;
const SEARCHES_PER_BATCH = 20;

/**
 * `POST /fhir/HealthcareService/$import-open-referral`: an Open Referral UK feed (one service, a
 * list of them, an organisation with its services, or a list page; ORUK v1 or HSDS 3) stored as
 * Organization, Location and HealthcareService, keyed by their ORUK ids, so importing the same
 * feed again updates in place and creates nothing new. Each record that cannot be stored is
 * refused on its own, with its id and a reason; the rest are stored. Needs create and update on
 * all three directory types. Imports run one at a time.
 */
export async function importOpenReferral(
  deps: DirectoryDeps,
  ctx: RequestContext,
  body: unknown,
  /** The feed's API base, naming the ids' systems (`<source>/services` ...); shared ones without. */
  source?: string,
): Promise<ImportSummary> {
  for (const type of DIRECTORY_TYPES) {
    authorize(ctx.principal, type, 'c');
    authorize(ctx.principal, type, 'u');
  }
  const systems = source === undefined ? DEFAULT_FEED_SYSTEMS : feedSystemsOf(source);
  if (!systems) {
    throw Failures.badRequest('source is the absolute http(s) URL of the feed, with no query or fragment', [
      'source',
    ]);
  }
  const feed = withFeedSystems(mapOpenReferral(body), systems);
  if (feed.records.length + feed.refused.length > MAX_IMPORT_RECORDS) {
    throw new FhirError('too-large', [
      {
        code: 'too-costly',
        diagnostics: `An import holds at most ${MAX_IMPORT_RECORDS} records; send the feed in pieces (npm run import:open-referral does)`,
      },
    ]);
  }
  const whole = feed.refused.find((r) => r.kind === 'input');
  if (whole && feed.records.length === 0) {
    throw new FhirError('invalid', [{ code: 'structure', diagnostics: `The body is ${whole.reason}` }]);
  }
  return deps.locks.withLocks([DIRECTORY_IMPORT_LOCK], async () => {
    const run = new ImportRun(deps.store, feed.refused, systems);
    await run.findStored(feed.records);
    for (const kind of ORDER)
      await run.write(
        kind,
        feed.records.filter((r) => r.kind === kind),
      );
    // The audit record names what the import wrote, not every entry it looked at.
    ctx.touched.push(...run.changed);
    return run.summary();
  });
}

const key = (kind: RecordKind, orukId: string) => `${kind}|${orukId}`;
const zero = (): ImportCounts => ({ created: 0, updated: 0, unchanged: 0, refused: 0 });

/** One import: what is stored already, what this import wrote, and the counts. */
class ImportRun {
  /** Stored entries by `<kind>|<ORUK id>` and by other unique identifier (`<type>|<system>|<value>`). */
  private readonly stored = new Map<string, DirectoryResource>();
  /** Ids of entries stored or written, by `<kind>|<ORUK id>`. */
  readonly written = new Map<string, string>();
  /** What this import created or updated, as `Type/id`. */
  readonly changed: string[] = [];
  /** Identifiers other than ORUK ids claimed by this import's records, by `<type>|<system>|<value>`. */
  private readonly claimed = new Map<string, string>();
  private readonly counts: Record<RecordKind, ImportCounts> = {
    organization: zero(),
    location: zero(),
    service: zero(),
  };

  private readonly store: FhirStore;
  private readonly refusals: RefusedRecord[];
  private readonly systems: FeedSystems;
  /** The kind of record whose ORUK ids a system holds. */
  private readonly kindOf: Map<string, RecordKind>;

  constructor(store: FhirStore, refusals: RefusedRecord[], systems: FeedSystems) {
    this.store = store;
    this.refusals = refusals;
    this.systems = systems;
    this.kindOf = new Map(ORDER.map((kind) => [systems[kind], kind]));
    for (const refusal of refusals) if (refusal.kind !== 'input') this.counts[refusal.kind].refused++;
  }

  /** The identifiers an entry is found by: its ORUK id in this feed, and the unique ones it carries. */
  private keyed(resource: DirectoryResource): Identifier[] {
    const unique = new Set(uniqueIdentifiers(resource));
    return (resource.identifier ?? []).filter(
      (i) => i.value && i.system && (this.kindOf.has(i.system) || unique.has(i)),
    );
  }

  /** Looks up, in few round trips, every entry the feed's records are or name. */
  async findStored(records: readonly MappedRecord[]): Promise<void> {
    const wanted = new Map<DirectoryType, Set<string>>(DIRECTORY_TYPES.map((t) => [t, new Set()]));
    for (const record of records) {
      const type = TYPE_OF[record.kind];
      for (const id of this.keyed(record.resource)) wanted.get(type)?.add(tokenOf(id));
      for (const ref of namedRefs(record.resource)) {
        const kind = this.kindOf.get(ref.identifier?.system ?? '');
        if (kind && ref.identifier?.value) wanted.get(TYPE_OF[kind])?.add(tokenOf(ref.identifier));
      }
    }
    const searches = [...wanted].flatMap(([type, tokens]) =>
      chunks([...tokens], VALUES_PER_SEARCH).map((values) => ({
        type,
        query: { identifier: values.join(','), _count: String(values.length * 2) },
      })),
    );
    for (const batch of chunks(searches, SEARCHES_PER_BATCH)) {
      for (const bundle of await searchAll(this.store, batch)) {
        for (const entry of bundle.entry ?? []) {
          const resource = entry.resource as DirectoryResource | undefined;
          if (resource?.id) this.remember(resource);
        }
      }
    }
  }

  private remember(resource: DirectoryResource): void {
    for (const id of this.keyed(resource)) {
      const kind = this.kindOf.get(id.system ?? '');
      if (kind) {
        this.stored.set(key(kind, id.value as string), resource);
        this.written.set(key(kind, id.value as string), resource.id as string);
      } else this.stored.set(`${resource.resourceType}|${id.system}|${id.value}`, resource);
    }
  }

  /** The stored entry a record is: by its ORUK id, else by another unique identifier it carries. */
  private storedFor(record: MappedRecord): DirectoryResource | undefined {
    const own = this.stored.get(key(record.kind, record.orukId));
    if (own) return own;
    return this.keyed(record.resource)
      .map((i) => this.stored.get(`${record.resource.resourceType}|${i.system}|${i.value}`))
      .find(Boolean);
  }

  /**
   * Claims the record's identifiers other than its ORUK id (charity and company numbers, ODS
   * codes) for the entry it is: false when a different stored entry holds one, or an earlier
   * record of this import claimed one, as no two directory entries share one.
   */
  private claim(record: MappedRecord, own: DirectoryResource | undefined): boolean {
    const type = record.resource.resourceType;
    const others = this.keyed(record.resource).filter((i) => !this.kindOf.has(i.system ?? ''));
    const keys = others.map((i) => `${type}|${i.system}|${i.value}`);
    const mine = key(record.kind, record.orukId);
    for (const k of keys) {
      const holder = this.stored.get(k);
      if (holder && holder.id !== own?.id) return false;
      const claimant = this.claimed.get(k);
      if (claimant && claimant !== mine) return false;
    }
    for (const k of keys) this.claimed.set(k, mine);
    return true;
  }

  /** Writes one kind's records: new ones created, changed ones updated, the rest left alone. */
  async write(kind: RecordKind, records: readonly MappedRecord[]): Promise<void> {
    const entries: { record: MappedRecord; entry: BundleEntry }[] = [];
    for (const record of records) {
      const resource = prepareForStore(this.linked(record.resource));
      const { malformed, issues } = directoryIssues(resource, Object.values(this.systems));
      const problem = [...malformed, ...issues][0];
      if (problem) {
        this.refuse(
          record,
          `not stored: ${problem.expression?.[0] ?? resource.resourceType} ${problem.code}`,
        );
        continue;
      }
      const stored = this.storedFor(record);
      if (!this.claim(record, stored)) {
        this.refuse(record, 'an identifier it carries is held by another directory entry');
        continue;
      }
      if (!stored) {
        entries.push({
          record,
          entry: createEntry(resource, { system: this.systems[record.kind], value: record.orukId }),
        });
        continue;
      }
      const next = mergedInto(stored, resource);
      if (sameContent(stored, next)) {
        this.counts[kind].unchanged++;
        this.written.set(key(kind, record.orukId), stored.id as string);
      } else entries.push({ record, entry: updateEntry(next, stored) });
    }
    for (const chunk of chunks(entries, WRITES_PER_BATCH)) await this.send(kind, chunk);
  }

  /**
   * One `batch` Bundle: each entry is applied on its own, so a record the store refuses stops no
   * other (a transaction would also be held to Medplum's limits on conditional entries). A batch
   * refused whole is sent again one record at a time.
   */
  private async send(kind: RecordKind, chunk: { record: MappedRecord; entry: BundleEntry }[]): Promise<void> {
    let answer: Bundle;
    try {
      answer = await this.store.bundle(batch(chunk.map((c) => c.entry)));
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      if (chunk.length === 1 && chunk[0]) return this.refuse(chunk[0].record, 'refused by the store');
      for (const one of chunk) await this.send(kind, [one]);
      return;
    }
    chunk.forEach((c, i) => {
      const entry = answer.entry?.[i];
      if (/^2\d\d/.test(entry?.response?.status ?? '')) this.account(kind, c, entry);
      else this.refuse(c.record, `refused by the store (${entry?.response?.status ?? 'no answer'})`);
    });
  }

  private account(
    kind: RecordKind,
    c: { record: MappedRecord; entry: BundleEntry },
    answer?: BundleEntry,
  ): void {
    const status = answer?.response?.status ?? '';
    const id = answer?.resource?.id ?? answer?.response?.location?.split('/')[1];
    if (id) this.written.set(key(kind, c.record.orukId), id);
    const wrote =
      c.entry.request?.method === 'PUT' ? 'updated' : status.startsWith('201') ? 'created' : undefined;
    this.counts[kind][wrote ?? 'unchanged']++;
    if (wrote && id) this.changed.push(`${TYPE_OF[kind]}/${id}`);
  }

  private refuse(record: MappedRecord, reason: string): void {
    this.counts[record.kind].refused++;
    this.refusals.push({ kind: record.kind, orukId: record.orukId, reason });
  }

  /** The record with its links to other records as references to their stored entries (or left out). */
  private linked(resource: DirectoryResource): DirectoryResource {
    const resolve = (ref: Reference | undefined): Reference | undefined => {
      const kind = this.kindOf.get(ref?.identifier?.system ?? '');
      const id =
        kind && ref?.identifier?.value ? this.written.get(key(kind, ref.identifier.value)) : undefined;
      return kind && id
        ? { reference: `${TYPE_OF[kind]}/${id}`, ...(ref?.display ? { display: ref.display } : {}) }
        : undefined;
    };
    switch (resource.resourceType) {
      case 'HealthcareService': {
        const { providedBy, location, ...rest } = resource;
        const provider = resolve(providedBy);
        const places = (location ?? []).flatMap((l) => resolve(l) ?? []);
        return {
          ...rest,
          ...(provider ? { providedBy: provider } : {}),
          ...(places.length ? { location: places } : {}),
        } as HealthcareService;
      }
      case 'Location': {
        const { managingOrganization, ...rest } = resource;
        const manager = resolve(managingOrganization);
        return { ...rest, ...(manager ? { managingOrganization: manager } : {}) } as Location;
      }
      default:
        return resource;
    }
  }

  summary(): ImportSummary {
    const total = zero();
    for (const counts of Object.values(this.counts)) {
      for (const k of Object.keys(total) as (keyof ImportCounts)[]) total[k] += counts[k];
    }
    return { total, byKind: this.counts, refusals: this.refusals };
  }
}
