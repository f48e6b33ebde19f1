/**
 * `npm run import:open-referral -- <file or directory> [--url http://127.0.0.1:8787]
 *   [--client riverside-directory-admin] [--key <private JWK file>] [--scope "<scopes>"]
 *   [--batch 200] [--max-bytes 1048576] [--source <the feed's API base URL>]`
 *
 * Imports Open Referral UK feeds (ORUK v1 or HSDS 3 JSON) into a running service through
 * `POST /fhir/HealthcareService/$import-open-referral`: one JSON file, or every `.json` file of a
 * directory (in name order; other files are skipped, saying so). The records of each file (an
 * array, a list page's `contents` or `content`, an organisation with its `services`, or one
 * record) are sent in batches of at most `--batch` services and at most `--max-bytes` bytes (the
 * service's MAX_BODY_BYTES, 1 MiB by default). An organisation goes whole with its services, which
 * are split across batches only when they do not fit in one; services naming the same organisation
 * are sent together, in one batch when they fit. A record too large to go alone is not sent, and is
 * reported as refused.
 *
 * Progress goes to stderr; the summary and every refused record (id or place in the file, and
 * why) to stdout. Counts are added up over the batches as the service answered them: an
 * organisation or location that several batches name is counted in each (created once, then
 * unchanged).
 *
 * When the service has clients registered (it serves /.well-known/smart-configuration), the
 * script obtains an access token the SMART Backend Services way, as `--client` with the private
 * key in `--key` (a JWK file, as `npm run keys` writes), or with the client's test-only key in
 * examples/auth/ when no key is given. The open local mode (`npm start` with no clients) needs none.
 *
 * Exit code 1 when the service refused a batch outright (4xx/5xx), could not be reached, or a
 * file could not be read; records it refused one by one are reported, not fatal. 2 for bad usage.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { JWK } from 'jose';
import { type ClientKey, getAccessToken } from './smart-client.ts';
import { testClientKey } from './test-client-keys.ts';

export const IMPORT_PATH = '/fhir/HealthcareService/$import-open-referral';
/** Services per batch, unless told otherwise. */
export const DEFAULT_BATCH = 200;
/** The service's default request body limit (MAX_BODY_BYTES). */
export const DEFAULT_MAX_BYTES = 1_048_576;
export const DEFAULT_CLIENT = 'riverside-directory-admin';
/** What an import needs: create and update on the three directory types. */
export const IMPORT_SCOPES = 'system/Organization.cru system/HealthcareService.cru system/Location.cru';

type Json = Record<string, unknown>;
export type Kind = 'organization' | 'location' | 'service';
const KINDS: readonly Kind[] = ['organization', 'location', 'service'];

export interface Counts {
  created: number;
  updated: number;
  unchanged: number;
  refused: number;
}

/** A record not stored: by the service, or here (too large to send). */
export interface RefusedRecordReport {
  file: string;
  kind: string;
  id?: string;
  /** Where it is in the file (`content[3].organization`, `services[12]`, `[40]`). */
  index?: string;
  reason: string;
}

/** A batch the service refused outright, or a file that could not be read. */
export interface BatchFailure {
  file: string;
  /** 1-based within the file; 0 for the file itself. */
  batch: number;
  records: number;
  status?: number;
  message: string;
}

export interface ImportReport {
  files: string[];
  skipped: string[];
  /** Services (or other top-level records) found, and sent. */
  records: number;
  sent: number;
  batches: number;
  total: Counts;
  byKind: Record<Kind, Counts>;
  refusals: RefusedRecordReport[];
  failures: BatchFailure[];
  /** True when the run stopped early (unreachable, unauthorised or failing service). */
  stopped: boolean;
  seconds: number;
}

export interface Progress {
  file: string;
  /** Records of this file sent so far, of how many. */
  sent: number;
  records: number;
  batches: number;
  total: Counts;
  /** Records sent per second over the whole run so far. */
  rate: number;
}

export interface ImportOptions {
  /** The service's base URL (`http://127.0.0.1:8787`). */
  baseUrl: string;
  fetch: (request: Request) => Response | Promise<Response>;
  /** An access token; asked again with `fresh` when one is refused as expired. None: sent without. */
  token?: (fresh: boolean) => Promise<string>;
  batchSize?: number;
  maxBytes?: number;
  /** The feed's API base: its ids are kept apart from other publishers' (`?source=`). */
  source?: string;
  onProgress?: (progress: Progress) => void;
  /** Notes (files skipped, retries). */
  log?: (message: string) => void;
  /** Waits before a retry after 429 (tests pass one that does not wait). */
  sleep?: (ms: number) => Promise<void>;
}

/** A feed held in memory, named as a file would be. */
export interface NamedFeed {
  name: string;
  feed: unknown;
}

// ---- Splitting a feed into batches ----

/** One item of a batch: its JSON text and where it comes from in the file. */
export interface Unit {
  text: string;
  bytes: number;
  /** Services it carries (an organisation: its services, at least 1; anything else: 1). */
  records: number;
  /** Where it is in the file: `$` (the whole file), `[3]`, `contents[3]`. */
  path: string;
  /** An organisation's services split over several items: the index of this item's first. */
  servicesFrom?: number;
  /** The organisation a service names: the items naming one go in one batch when they fit. */
  group?: string;
}

export interface Batch {
  units: Unit[];
  records: number;
  /** The request body, and its size in bytes (never over the limit). */
  body: string;
  bytes: number;
  /** Whether the body is an array of the units (else the one unit: the whole file as it was). */
  wrapped: boolean;
}

export interface Limits {
  batchSize: number;
  maxBytes: number;
}

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const byteLength = (text: string) => Buffer.byteLength(text, 'utf8');
const isOrganisationWithServices = (value: unknown): value is Json & { services: unknown[] } =>
  isObject(value) && !('resourceType' in value) && Array.isArray(value.services);

/**
 * The items of a feed as the service reads it: an array's items, a list page's `contents` (HSDS 3)
 * or `content` (ORUK v1), else the feed itself (an organisation with its services, or one record).
 * Each with the path the service would name it by.
 */
export function itemsOf(feed: unknown): { value: unknown; path: string }[] {
  if (Array.isArray(feed)) return feed.map((value, i) => ({ value, path: `[${i}]` }));
  if (isObject(feed)) {
    for (const key of ['contents', 'content']) {
      const items = feed[key];
      if (Array.isArray(items)) return items.map((value, i) => ({ value, path: `${key}[${i}]` }));
    }
  }
  return [{ value: feed, path: '$' }];
}

/**
 * The feed as items small enough to send: each record as is, an organisation with its services
 * whole when it fits in one batch, else split into copies of it each carrying some of its services.
 * What cannot go even alone is refused here.
 */
export function unitsOf(
  feed: unknown,
  limits: Limits,
): { units: Unit[]; tooLarge: Omit<RefusedRecordReport, 'file'>[] } {
  const units: Unit[] = [];
  const tooLarge: Omit<RefusedRecordReport, 'file'>[] = [];
  // A batch's body is `[item,item,…]`: two brackets, and a comma between items.
  const room = limits.maxBytes - 2;
  const refuse = (kind: string, value: unknown, path: string, bytes: number) =>
    tooLarge.push({
      kind,
      ...(isObject(value) && (typeof value.id === 'string' || typeof value.id === 'number')
        ? { id: String(value.id) }
        : {}),
      index: path,
      reason: `too large to send: ${bytes} bytes, over the ${limits.maxBytes}-byte request limit`,
    });
  for (const { value, path } of inGroups(itemsOf(feed))) {
    const text = JSON.stringify(value) ?? 'null';
    const bytes = byteLength(text);
    if (!isOrganisationWithServices(value)) {
      const group = organisationOf(value);
      if (bytes > room) refuse('service', value, path, bytes);
      else units.push({ text, bytes, records: 1, path, ...(group !== undefined ? { group } : {}) });
      continue;
    }
    const services = value.services;
    if (bytes <= room && services.length <= limits.batchSize) {
      units.push({ text, bytes, records: Math.max(1, services.length), path });
      continue;
    }
    // The organisation again with each share of its services (the service matches it by its id).
    const headerBytes = byteLength(JSON.stringify({ ...value, services: [] }));
    if (headerBytes > room) {
      refuse('organization', value, path, headerBytes);
      continue;
    }
    let share: unknown[] = [];
    let shareBytes = headerBytes;
    let from = 0;
    const flush = () => {
      if (share.length === 0) return;
      const shareText = JSON.stringify({ ...value, services: share });
      units.push({
        text: shareText,
        bytes: byteLength(shareText),
        records: share.length,
        path,
        servicesFrom: from,
      });
      share = [];
      shareBytes = headerBytes;
    };
    services.forEach((service, k) => {
      const serviceBytes = byteLength(JSON.stringify(service) ?? 'null');
      const servicePath = `${path === '$' ? '' : `${path}.`}services[${k}]`;
      if (headerBytes + serviceBytes > room) {
        refuse('service', service, servicePath, headerBytes + serviceBytes);
        return;
      }
      const added = serviceBytes + (share.length ? 1 : 0);
      if (share.length >= limits.batchSize || shareBytes + added > room) flush();
      if (share.length === 0) from = k;
      shareBytes += share.length ? serviceBytes + 1 : serviceBytes;
      share.push(service);
    });
    flush();
  }
  return { units, tooLarge };
}

/** The ORUK id of the organisation a service names (nested, or by `organization_id`). */
function organisationOf(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const id = isObject(value.organization) ? value.organization.id : value.organization_id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

/**
 * The items with those naming the same organisation brought together, where the first of them
 * was: a feed may describe an organisation differently in each of its services (the service keeps
 * the first description it meets in a request), so an organisation met in one batch only is
 * written once, and a second import of the same feed finds it unchanged.
 */
function inGroups<T extends { value: unknown }>(items: T[]): T[] {
  const groups = new Map<string, T[]>();
  const ordered: (T | T[])[] = [];
  for (const item of items) {
    const key = organisationOf(item.value);
    if (key === undefined) {
      ordered.push(item);
      continue;
    }
    let group = groups.get(key);
    if (!group) {
      group = [];
      groups.set(key, group);
      ordered.push(group);
    }
    group.push(item);
  }
  return ordered.flat() as T[];
}

/**
 * The units in batches of at most `batchSize` records and `maxBytes` bytes, in order; the units
 * of one organisation's group start a new batch rather than be split, when they fit in one.
 */
export function batchesOf(units: readonly Unit[], limits: Limits): Batch[] {
  const batches: Batch[] = [];
  let current: Unit[] = [];
  let records = 0;
  let bytes = 2;
  const flush = () => {
    if (current.length === 0) return;
    // A whole file that is one record (or one organisation) is sent as it is, not in an array.
    const only = current.length === 1 ? current[0] : undefined;
    const wrapped = !(only && only.path === '$' && only.servicesFrom === undefined);
    const body = wrapped ? `[${current.map((u) => u.text).join(',')}]` : (only as Unit).text;
    batches.push({ units: current, records, body, bytes: byteLength(body), wrapped });
    current = [];
    records = 0;
    bytes = 2;
  };
  const fits = (moreRecords: number, moreBytes: number) =>
    records + moreRecords <= limits.batchSize && bytes + moreBytes <= limits.maxBytes;
  for (const [i, unit] of units.entries()) {
    if (current.length && unit.group !== undefined && units[i - 1]?.group !== unit.group) {
      // The group's size: it goes to a new batch if it fits in one but not in this one.
      let groupRecords = 0;
      let groupBytes = -1;
      for (let j = i; j < units.length && units[j]?.group === unit.group; j++) {
        groupRecords += (units[j] as Unit).records;
        groupBytes += (units[j] as Unit).bytes + 1;
      }
      const wholeFits = groupRecords <= limits.batchSize && groupBytes + 2 <= limits.maxBytes;
      if (wholeFits && !fits(groupRecords, groupBytes + 1)) flush();
    }
    const added = unit.bytes + (current.length ? 1 : 0);
    if (current.length && !fits(unit.records, added)) flush();
    bytes += current.length ? unit.bytes + 1 : unit.bytes;
    records += unit.records;
    current.push(unit);
  }
  flush();
  return batches;
}

/** Where a record the service names by its place in a batch (`[3].services[2]`) is in the file. */
function placeInFile(batch: Batch, index: string | undefined): string | undefined {
  if (index === undefined) return undefined;
  if (!batch.wrapped) return index;
  const match = /^\[(\d+)\](.*)$/.exec(index);
  const unit = match ? batch.units[Number(match[1])] : undefined;
  if (!match || !unit) return index;
  let rest = match[2] ?? '';
  if (unit.servicesFrom !== undefined) {
    rest = rest.replace(
      /^\.services\[(\d+)\]/,
      (_all, k: string) => `.services[${Number(k) + (unit.servicesFrom ?? 0)}]`,
    );
  }
  if (unit.path === '$') return rest.replace(/^\./, '') || '$';
  return `${unit.path}${rest}`;
}

// ---- Sending ----

const zero = (): Counts => ({ created: 0, updated: 0, unchanged: 0, refused: 0 });
const COUNT_NAMES = ['created', 'updated', 'unchanged', 'refused'] as const;

interface ParametersLike {
  resourceType?: string;
  parameter?: {
    name?: string;
    valueInteger?: number;
    part?: { name?: string; valueInteger?: number; valueString?: string; valueCode?: string }[];
  }[];
}

function countsIn(params: { name?: string; valueInteger?: number }[] | undefined): Counts {
  const counts = zero();
  for (const name of COUNT_NAMES) counts[name] = params?.find((p) => p.name === name)?.valueInteger ?? 0;
  return counts;
}

function add(into: Counts, counts: Counts): void {
  for (const name of COUNT_NAMES) into[name] += counts[name];
}

/** Statuses after which no later batch can do better: stop the run. */
const STOPS = (status: number) => status === 401 || status === 403 || status >= 500;
const MAX_RETRIES = 5;

/** The OperationOutcome's words, or the start of the body. */
function describe(body: string): string {
  try {
    const json = JSON.parse(body) as { issue?: { code?: string; diagnostics?: string }[] };
    if (json.issue?.length)
      return json.issue.map((i) => [i.code, i.diagnostics].filter(Boolean).join(': ')).join('; ');
  } catch {
    // not JSON
  }
  return body.slice(0, 200);
}

/**
 * Imports feeds held in memory, in order, batch by batch; the report says what the service did.
 * Used by the command (with the files it reads) and the directory benchmark.
 */
export async function importFeeds(feeds: Iterable<NamedFeed>, options: ImportOptions): Promise<ImportReport> {
  const report = newReport();
  const started = performance.now();
  for (const { name, feed } of feeds) {
    if (report.stopped) break;
    await importOne(name, feed, options, report, started);
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/**
 * Imports one JSON file, or every `.json` file of a directory (name order; other entries skipped,
 * saying so). A file that is not JSON is a failure of its own; the others are still imported.
 */
export async function importOpenReferral(target: string, options: ImportOptions): Promise<ImportReport> {
  const log = options.log ?? (() => {});
  const report = newReport();
  const started = performance.now();
  let files: string[];
  if (statSync(target).isDirectory()) {
    files = [];
    for (const entry of readdirSync(target).sort()) {
      const path = join(target, entry);
      if (entry.toLowerCase().endsWith('.json') && statSync(path).isFile()) files.push(path);
      else {
        report.skipped.push(path);
        log(`skipping ${path}: not a .json file`);
      }
    }
    if (files.length === 0) log(`no .json files in ${target}`);
  } else files = [target];
  for (const file of files) {
    if (report.stopped) break;
    let feed: unknown;
    try {
      feed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      report.files.push(file);
      report.failures.push({
        file,
        batch: 0,
        records: 0,
        message: `not readable as JSON: ${(err as Error).message}`,
      });
      continue;
    }
    await importOne(file, feed, options, report, started);
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

function newReport(): ImportReport {
  return {
    files: [],
    skipped: [],
    records: 0,
    sent: 0,
    batches: 0,
    total: zero(),
    byKind: { organization: zero(), location: zero(), service: zero() },
    refusals: [],
    failures: [],
    stopped: false,
    seconds: 0,
  };
}

async function importOne(
  file: string,
  feed: unknown,
  options: ImportOptions,
  report: ImportReport,
  started: number,
): Promise<void> {
  const limits = {
    batchSize: options.batchSize ?? DEFAULT_BATCH,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
  };
  report.files.push(file);
  const { units, tooLarge } = unitsOf(feed, limits);
  for (const refusal of tooLarge) {
    report.refusals.push({ file, ...refusal });
    report.total.refused++;
    const kind = refusal.kind as Kind;
    if (KINDS.includes(kind)) report.byKind[kind].refused++;
  }
  const batches = batchesOf(units, limits);
  const records = units.reduce((n, u) => n + u.records, 0) + tooLarge.length;
  report.records += records;
  let sent = 0;
  for (const [i, batch] of batches.entries()) {
    const outcome = await send(batch, options);
    report.batches++;
    sent += batch.records;
    report.sent += batch.records;
    if (outcome.ok) {
      const answer = outcome.answer;
      add(report.total, countsIn(answer.parameter));
      for (const kind of KINDS)
        add(report.byKind[kind], countsIn(answer.parameter?.find((p) => p.name === kind)?.part));
      for (const p of answer.parameter ?? []) {
        if (p.name !== 'refused-record') continue;
        const part = (name: string) => {
          const found = p.part?.find((q) => q.name === name);
          return found?.valueString ?? found?.valueCode;
        };
        const id = part('id');
        const index = placeInFile(batch, part('index'));
        report.refusals.push({
          file,
          kind: part('kind') ?? 'record',
          ...(id !== undefined ? { id } : {}),
          ...(index !== undefined ? { index } : {}),
          reason: part('reason') ?? '',
        });
      }
    } else {
      report.failures.push({
        file,
        batch: i + 1,
        records: batch.records,
        ...(outcome.status !== undefined ? { status: outcome.status } : {}),
        message: outcome.message,
      });
      if (outcome.stop) {
        report.stopped = true;
        break;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    options.onProgress?.({
      file,
      sent: sent + tooLarge.length,
      records,
      batches: i + 1,
      total: { ...report.total },
      rate: seconds > 0 ? report.sent / seconds : 0,
    });
  }
}

type Outcome =
  | { ok: true; answer: ParametersLike }
  | { ok: false; status?: number; message: string; stop: boolean };

/** One batch: with a fresh token once when the token is refused, waiting and again after 429. */
async function send(batch: Batch, options: ImportOptions): Promise<Outcome> {
  const query = options.source ? `?source=${encodeURIComponent(options.source)}` : '';
  const url = `${options.baseUrl.replace(/\/+$/, '')}${IMPORT_PATH}${query}`;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  let fresh = false;
  for (let attempt = 0; ; attempt++) {
    const token = options.token ? await options.token(fresh) : undefined;
    let response: Response;
    try {
      response = await options.fetch(
        new Request(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/fhir+json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: batch.body,
        }),
      );
    } catch (err) {
      return { ok: false, message: `no answer: ${(err as Error).message}`, stop: true };
    }
    const text = await response.text();
    if (response.status === 401 && options.token && !fresh) {
      fresh = true;
      continue;
    }
    if (response.status === 429 && attempt < MAX_RETRIES) {
      const seconds = Number(response.headers.get('retry-after'));
      const wait = Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 60) : 2 ** attempt;
      options.log?.(`rate limited: trying again in ${wait} s`);
      await sleep(wait * 1000);
      continue;
    }
    if (response.status !== 200) {
      return {
        ok: false,
        status: response.status,
        message: describe(text),
        stop: STOPS(response.status),
      };
    }
    try {
      const answer = JSON.parse(text) as ParametersLike;
      if (answer.resourceType === 'Parameters') return { ok: true, answer };
    } catch {
      // reported below
    }
    return { ok: false, status: 200, message: 'the answer is not a Parameters resource', stop: true };
  }
}

// ---- Output ----

const countsText = (c: Counts) =>
  `created ${c.created}, updated ${c.updated}, unchanged ${c.unchanged}, refused ${c.refused}`;

export function progressLine(p: Progress): string {
  const share = p.records ? Math.round((p.sent / p.records) * 100) : 100;
  return `${basename(p.file)}: ${p.sent}/${p.records} records (${share}%, ${p.batches} batches); ${countsText(p.total)}; ${p.rate.toFixed(0)} records/s`;
}

/** The summary printed at the end: totals, by kind, each refused record, each failed batch. */
export function summaryLines(report: ImportReport): string[] {
  const lines = [
    `Imported ${report.files.length} file(s)${report.skipped.length ? ` (${report.skipped.length} skipped: not .json)` : ''}: ${report.sent} of ${report.records} records sent in ${report.batches} batches, ${report.seconds.toFixed(1)} s (${report.seconds > 0 ? (report.sent / report.seconds).toFixed(0) : '-'} records/s)`,
    `  total:         ${countsText(report.total)}`,
    ...KINDS.map((kind) => `  ${`${kind}:`.padEnd(14)} ${countsText(report.byKind[kind])}`),
  ];
  if (report.refusals.length) {
    lines.push(`Refused records (${report.refusals.length}):`);
    for (const r of report.refusals) {
      const where = [r.id !== undefined ? `id ${r.id}` : undefined, r.index ? `at ${r.index}` : undefined]
        .filter(Boolean)
        .join(', ');
      lines.push(`  ${basename(r.file)}: ${r.kind}${where ? ` (${where})` : ''}: ${r.reason}`);
    }
  }
  if (report.failures.length) {
    lines.push(`Batches refused outright (${report.failures.length}):`);
    for (const f of report.failures) {
      const what = f.batch === 0 ? 'the file' : `batch ${f.batch} (${f.records} records)`;
      lines.push(
        `  ${basename(f.file)}: ${what}: ${f.status !== undefined ? `HTTP ${f.status}: ` : ''}${f.message}`,
      );
    }
  }
  if (report.stopped) lines.push('Stopped early: later batches were not sent.');
  return lines;
}

// ---- The command ----

/** A private key as `npm run keys` writes it (a JWK with kid and alg), or as examples/auth holds them. */
export function readClientKey(file: string, clientId: string): ClientKey {
  const json = JSON.parse(readFileSync(file, 'utf8')) as JWK & { jwk?: JWK; clientId?: string };
  const jwk = json.jwk ?? json;
  if (!jwk.kid || !jwk.alg || !jwk.d) throw new Error(`${file} is not a private JWK with kid and alg`);
  return { clientId, jwk };
}

/** Access tokens for the client, obtained once and again when asked for a fresh one. */
export function tokenSource(
  send: ImportOptions['fetch'],
  baseUrl: string,
  key: ClientKey,
  scope: string,
): (fresh: boolean) => Promise<string> {
  let token: Promise<string> | undefined;
  return (fresh) => {
    if (!token || fresh) token = getAccessToken(send, baseUrl.replace(/\/+$/, ''), key, scope);
    return token;
  };
}

function usage(message?: string): never {
  if (message) console.error(message);
  console.error(
    'usage: npm run import:open-referral -- <file or directory> [--url http://127.0.0.1:8787] [--client riverside-directory-admin] [--key <private JWK file>] [--scope "<scopes>"] [--batch 200] [--max-bytes 1048576] [--source <the feed\'s API base URL>]',
  );
  process.exit(2);
}

async function main(argv: string[]): Promise<number> {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  const known = ['--url', '--client', '--key', '--scope', '--batch', '--max-bytes', '--source'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') usage();
    if (arg.startsWith('--')) {
      const [name, inline] = arg.split(/=(.*)/s) as [string, string | undefined];
      if (!known.includes(name)) usage(`Unknown option ${name}`);
      const value = inline ?? argv[++i];
      if (value === undefined) usage(`${name} needs a value`);
      flags.set(name, value);
    } else positional.push(arg);
  }
  if (positional.length !== 1) usage('Give one file or directory to import.');
  const target = positional[0] as string;
  const number = (name: string, fallback: number) => {
    const value = flags.has(name) ? Number(flags.get(name)) : fallback;
    if (!Number.isInteger(value) || value < 1) usage(`${name} is a positive whole number`);
    return value;
  };
  const batchSize = number('--batch', DEFAULT_BATCH);
  const maxBytes = number('--max-bytes', DEFAULT_MAX_BYTES);
  const baseUrl = (flags.get('--url') ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
  const clientId = flags.get('--client') ?? DEFAULT_CLIENT;
  try {
    statSync(target);
  } catch {
    usage(`${target}: no such file or directory`);
  }

  const discovery = await fetch(`${baseUrl}/.well-known/smart-configuration`).catch((err: Error) => err);
  if (discovery instanceof Error) {
    console.error(`No answer from ${baseUrl}: ${discovery.message} (is the service running?)`);
    return 1;
  }
  await discovery.body?.cancel();
  let token: ImportOptions['token'];
  if (discovery.ok) {
    let key: ClientKey;
    const keyFile = flags.get('--key');
    try {
      key = keyFile ? readClientKey(keyFile, clientId) : testClientKey(clientId);
    } catch (err) {
      console.error(`${(err as Error).message}: give the client's private key with --key`);
      return 2;
    }
    if (!keyFile)
      console.error(
        `Clients are registered: signing in as ${clientId} with its test-only key (examples/auth/).`,
      );
    else console.error(`Clients are registered: signing in as ${clientId}.`);
    token = tokenSource(fetch, baseUrl, key, flags.get('--scope') ?? IMPORT_SCOPES);
    try {
      await token(false);
    } catch (err) {
      console.error((err as Error).message);
      return 1;
    }
  } else console.error('Open local mode: sending without a token.');

  const report = await importOpenReferral(target, {
    baseUrl,
    fetch,
    ...(token ? { token } : {}),
    batchSize,
    maxBytes,
    ...(flags.get('--source') ? { source: flags.get('--source') as string } : {}),
    onProgress: (p) => console.error(progressLine(p)),
    log: (message) => console.error(message),
  });
  console.log(summaryLines(report).join('\n'));
  return report.failures.length ? 1 : 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
