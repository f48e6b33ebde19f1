import { matchesSearchRequest, parseSearchRequest, type SearchRequest } from '@medplum/core';
import type { Extension, Resource, ResourceType, Subscription } from '@medplum/fhirtypes';
import { OPEN_LOCAL_PRINCIPAL, type Principal } from '../auth/principal.ts';
import { isVisible, ownerOf } from '../auth/tenancy.ts';
import { indexDefinitions } from '../fhir/definitions.ts';
import { OWN_SYSTEM } from '../fhir/systems.ts';
import { type FhirStore, readIfExists } from '../medplum/store.ts';
import type { AsyncJobs } from '../outbox/async-jobs.ts';
import type { Outbox } from '../outbox/outbox.ts';
import type { Change } from './change-feed.ts';
import { isTopicBased } from './notification-body.ts';
import { isRunning } from './subscription-rules.ts';

/** The outbox kinds of notifications: a write's changes to match, and one notification to send. */
export const CHANGES_KIND = 'subscription-changes';
export const NOTIFY_KIND = 'subscription-notify';

/** The owner of a subscription made in the open local mode, where callers have no organisation. */
export const OPEN_MODE_OWNER = 'open-local-mode';

/** One notification to send: which subscription, which version, and its event for a topic. */
export interface NotifyMessage {
  subscription: string;
  notification: string;
  type: string;
  id: string;
  versionId: string;
  /** When the change was matched. */
  at: string;
  /** Topic-based: whether the change created the resource. */
  created?: boolean;
  /** Where notifications are put in order (Workers): the job that holds this one's turn. */
  job?: string;
}

export interface MatchDeps {
  store: FhirStore;
  /** The active subscriptions, as recently read. */
  active: ActiveSubscriptions;
  outbox: Outbox;
  clock: () => Date;
  /** The service runs in the open local mode: subscriptions made there see what it sees. */
  openMode: boolean;
  /**
   * Where a queue that keeps no order (the Worker's) has each subscription's notifications take
   * their turn: each is opened as a job under its subscription, and waits while an earlier one is
   * pending. Without it, the outbox's order keys keep the order (Node).
   */
  sequence?: AsyncJobs;
}

/** Most active subscriptions read per page when matching. */
const PAGE = 500;

/**
 * Whom a subscription notifies: its organisation, which sees only what its searches would (the
 * same labels, the care team's on the person's consent). A subscription made in the open local
 * mode notifies only while the service still runs in it.
 */
export function subscriberOf(subscription: Subscription, openMode: boolean): Principal | undefined {
  const owner = ownerOf(subscription);
  if (owner === OPEN_MODE_OWNER) return openMode ? OPEN_LOCAL_PRINCIPAL : undefined;
  return owner ? { clientId: `subscription/${subscription.id}`, organization: owner, scopes: [] } : undefined;
}

/**
 * The active subscriptions, read from the store at most once per `ttlMs`, and again at once after
 * a subscription was created, changed or deleted through this process. Another process's change
 * is seen within `ttlMs`; a subscription stopped meanwhile is still never sent to, as each
 * notification reads its subscription again before it is sent.
 */
export class ActiveSubscriptions {
  private cached: { at: number; list: Promise<Subscription[]> } | undefined;
  private readonly store: FhirStore;
  private readonly ttlMs: number;

  constructor(store: FhirStore, ttlMs = 1_000) {
    this.store = store;
    this.ttlMs = ttlMs;
  }

  list(): Promise<Subscription[]> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > this.ttlMs) {
      const list = activeSubscriptions(this.store);
      this.cached = { at: now, list };
      // A failed read is not kept.
      list.catch(() => {
        if (this.cached?.list === list) this.cached = undefined;
      });
    }
    return this.cached.list;
  }

  invalidate(): void {
    this.cached = undefined;
  }
}

/** Every active subscription, all organisations', page by page. */
export async function activeSubscriptions(store: FhirStore): Promise<Subscription[]> {
  const all: Subscription[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.search('Subscription', {
      _tag: `${OWN_SYSTEM.subscriptionState}|active`,
      _count: String(PAGE),
      _offset: String(offset),
      _sort: '_id',
    });
    const found = (page.entry ?? []).flatMap((e) => (e.resource ? [e.resource as Subscription] : []));
    all.push(...found);
    if (found.length < PAGE) return all;
  }
}

/** The searches a subscription's changes must all match, parsed once per stored version. */
const parsed = new Map<string, SearchRequest[]>();

function searchesOf(subscription: Subscription): SearchRequest[] {
  const key = `${subscription.id}/${subscription.meta?.versionId}`;
  const searches = parsed.get(key);
  if (!searches) {
    const criteria = (subscription as { _criteria?: { extension?: Extension[] } })._criteria;
    const texts = isTopicBased(subscription)
      ? (criteria?.extension ?? []).flatMap((e) => (e.valueString ? [e.valueString] : []))
      : [subscription.criteria ?? ''];
    const made = texts.map((t) => parseSearchRequest(t.includes('?') ? t : `Task?${t}`));
    if (parsed.size > 10_000) parsed.clear();
    parsed.set(key, made);
    return made;
  }
  return searches;
}

/** The type a subscription watches. */
export function watchedType(subscription: Subscription): string {
  return isTopicBased(subscription) ? 'Task' : (/^([A-Za-z]+)/.exec(subscription.criteria ?? '')?.[1] ?? '');
}

/** Whether the changed version matches every search of the subscription. */
export function matches(subscription: Subscription, resource: Resource): boolean {
  // The search parameters' definitions, wherever matching runs (a Queue consumer too).
  indexDefinitions();
  return searchesOf(subscription).every(
    (search) => search.resourceType === resource.resourceType && matchesSearchRequest(resource, search),
  );
}

/**
 * A notification's id: the same whenever the same change is matched to the same subscription
 * again (a retried match), so a receiver can drop what it has already had.
 */
export async function notificationId(subscription: string, change: Change): Promise<string> {
  const text = `${subscription}|${change.type}/${change.id}/_history/${change.versionId}`;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  const hex = [...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * For the topic (a referral's Task changed status): whether this version is the Task's first, or
 * holds another status than the version before it; undefined when it is neither.
 */
async function statusEvent(
  store: FhirStore,
  change: Change,
  task: Resource,
): Promise<{ created: boolean } | undefined> {
  const history = await store.history(change.type as ResourceType, change.id);
  const versions = (history.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
  const at = versions.findIndex((v) => v.meta?.versionId === change.versionId);
  const before = at < 0 ? undefined : versions[at + 1];
  if (!before) return at < 0 ? undefined : { created: true };
  const status = (r: Resource) => (r as { status?: string }).status;
  return status(before) === status(task) ? undefined : { created: false };
}

/**
 * Matches one write's changes against every active subscription and queues a notification for
 * each subscription whose organisation may see the changed version and whose criteria it meets.
 * Queued per subscription in order, so one endpoint hears of changes in the order they were made.
 */
export async function matchChanges(deps: MatchDeps, changes: readonly Change[]): Promise<void> {
  const subscriptions = await deps.active.list();
  const now = deps.clock();
  for (const change of changes) {
    const watching = subscriptions.filter((s) => watchedType(s) === change.type && isRunning(s, now));
    if (!watching.length) continue;
    let version: Resource | undefined;
    try {
      version = await deps.store.readVersion(change.type as ResourceType, change.id, change.versionId);
    } catch (err) {
      // Deleted since: nothing of it is sent.
      if (!(await readIfExists(deps.store, change.type as ResourceType, change.id))) continue;
      throw err;
    }
    let topicEvent: { created: boolean } | undefined | null = null;
    for (const subscription of watching) {
      const subscriber = subscriberOf(subscription, deps.openMode);
      if (!subscriber || !isVisible(subscriber, version) || !matches(subscription, version)) continue;
      const topic = isTopicBased(subscription);
      if (topic) {
        if (topicEvent === null) topicEvent = await statusEvent(deps.store, change, version);
        if (!topicEvent) continue;
      }
      const message: NotifyMessage = {
        subscription: subscription.id as string,
        notification: await notificationId(subscription.id as string, change),
        type: change.type,
        id: change.id,
        versionId: change.versionId,
        at: now.toISOString(),
        ...(topic && topicEvent ? { created: topicEvent.created } : {}),
      };
      if (deps.sequence?.turn) {
        // Opened again by a repeated match, the same job (its key is the notification's id).
        const owner = `subscription/${subscription.id}`;
        const opened = await deps.sequence.open(owner, message.notification, message.notification, owner);
        message.job = opened.id;
      }
      await deps.outbox.enqueue(NOTIFY_KIND, message, {
        ref: message.notification,
        orderKey: `subscription/${subscription.id}`,
      });
    }
  }
}
