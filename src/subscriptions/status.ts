import type { AuditEvent, Bundle, BundleEntry, Resource, ResourceType } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { isVisible, noteDisclosures } from '../auth/tenancy.ts';
import { FhirError } from '../fhir/outcomes.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import { OWN_SYSTEM } from '../fhir/systems.ts';
import { type FhirStore, readIfExists } from '../medplum/store.ts';
import { DELIVERY_SUBTYPE } from './delivery.ts';
import { type DeliveryRecord, isTopicBased, subscriptionStatus } from './notification-body.ts';
import { type PayloadContent, stateOf } from './subscription-rules.ts';
import { eventsOf } from './subscription-store.ts';
import { ownSubscription, type SubscriptionDeps } from './subscriptions.ts';

/** Deliveries `$status` lists, latest first. */
const STATUS_DELIVERIES = 20;

/** Delivery AuditEvents, as a search's `subtype` names them. */
const DELIVERIES = `${DELIVERY_SUBTYPE.system}|${DELIVERY_SUBTYPE.code}`;

/** Events `$events` answers at once. */
export const MAX_EVENTS = 100;

/** Delivery AuditEvents read per page. */
const PAGE = 500;

/**
 * `GET /Subscription/{id}/$status`: its state, its error, the count of its events (topic-based),
 * and its latest deliveries (time, notification, attempt, answer), read from their AuditEvents.
 */
export async function subscriptionStatusOf(
  deps: SubscriptionDeps,
  ctx: RequestContext,
  id: string,
  fhirBase: string,
): Promise<Bundle> {
  authorize(ctx.principal, 'Subscription', 'r');
  const stored = await ownSubscription(deps, ctx, id);
  ctx.touched.push(`Subscription/${id}`);
  const events = await deps.store.search('AuditEvent', {
    entity: `Subscription/${id}`,
    // Deliveries only: reading the subscription is recorded against it too.
    subtype: DELIVERIES,
    _sort: '-date',
    _count: String(STATUS_DELIVERIES),
  });
  const deliveries = (events.entry ?? []).flatMap((e) => {
    const record = e.resource ? deliveryOf(e.resource as AuditEvent) : undefined;
    return record ? [record] : [];
  });
  const topic = isTopicBased(stored);
  const status = subscriptionStatus({
    fhirBase,
    subscriptionId: id,
    state: stateOf(stored) ?? 'off',
    type: 'query-status',
    topic,
    ...(topic ? { eventsSinceStart: eventsOf(stored).count } : {}),
    ...(stored.error ? { error: stored.error } : {}),
    deliveries,
  });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: 1,
    entry: [{ resource: status, search: { mode: 'match' } }],
  };
}

function deliveryOf(event: AuditEvent): DeliveryRecord | undefined {
  const notification = event.entity?.find((e) => e.what?.identifier?.system === OWN_SYSTEM.notification);
  const detail = (type: string) => notification?.detail?.find((d) => d.type === type)?.valueString;
  const value = notification?.what?.identifier?.value;
  if (!value || !event.recorded) return undefined;
  const statusCode = detail('status-code');
  return {
    at: event.recorded,
    notification: value,
    attempt: Number(detail('attempt') ?? '1'),
    ...(statusCode ? { statusCode: Number(statusCode) } : {}),
    outcome: event.outcome === '0' ? 'delivered' : 'failed',
  };
}

/** Every delivery AuditEvent of a subscription, oldest first. */
async function deliveryEvents(store: FhirStore, id: string): Promise<AuditEvent[]> {
  const all: AuditEvent[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.search('AuditEvent', {
      entity: `Subscription/${id}`,
      subtype: DELIVERIES,
      _sort: 'date',
      _count: String(PAGE),
      _offset: String(offset),
    });
    const found = (page.entry ?? []).flatMap((e) => (e.resource ? [e.resource as AuditEvent] : []));
    all.push(...found);
    if (found.length < PAGE) return all;
  }
}

/** What a delivery AuditEvent says of the event it carried: its number and the version sent. */
function eventOf(event: AuditEvent): { number: number; version: string } | undefined {
  const notification = event.entity?.find((e) => e.what?.identifier?.system === OWN_SYSTEM.notification);
  const number = Number(notification?.detail?.find((d) => d.type === 'event-number')?.valueString);
  const version = event.entity?.find((e) => e.role?.code === '4')?.what?.reference;
  return Number.isInteger(number) && number > 0 && version ? { number, version } : undefined;
}

/** One whole-number parameter of `$events`, at most once. */
function numberParam(params: URLSearchParams, name: string): number | undefined {
  const values = params.getAll(name);
  if (values.length === 0) return undefined;
  const value = Number(values[0]);
  if (values.length > 1 || !/^\d{1,10}$/.test(values[0] as string) || value < 1) {
    throw new FhirError('malformed', [
      { code: 'value', diagnostics: `${name} is a whole number from 1, given once`, expression: [name] },
    ]);
  }
  return value;
}

/**
 * `GET /Subscription/{id}/$events` (Subscriptions R5 Backport IG): the events of a topic-based
 * subscription from `eventsSinceNumber` to `eventsUntilNumber` (at most 100), as a `history` Bundle
 * like a notification's, for a receiver that saw a gap in the numbers (without an end, the 100
 * from `eventsSinceNumber`). The caller needs the scope to read Tasks; each event's version is
 * shown only if the subscriber may still see it and the resource: an event whose access has
 * ended is left out.
 */
export async function subscriptionEvents(
  deps: SubscriptionDeps,
  ctx: RequestContext,
  id: string,
  params: URLSearchParams,
  fhirBase: string,
): Promise<Bundle> {
  authorize(ctx.principal, 'Subscription', 'r');
  const stored = await ownSubscription(deps, ctx, id);
  if (!isTopicBased(stored)) {
    throw new FhirError('invalid', [
      { code: 'not-supported', diagnostics: 'Only a topic-based subscription numbers its events' },
    ]);
  }
  // What it watches is read as any read of it is: with the scope to read the type.
  authorize(ctx.principal, 'Task', 'r');
  const count = eventsOf(stored).count;
  const since = numberParam(params, 'eventsSinceNumber') ?? 1;
  const asked = numberParam(params, 'eventsUntilNumber');
  // Without an end, the first 100 from `since` (the receiver asks again from where they stop).
  const until = asked ?? Math.min(count, since + MAX_EVENTS - 1);
  if (until - since + 1 > MAX_EVENTS) {
    throw new FhirError('invalid', [
      { code: 'too-costly', diagnostics: `$events answers at most ${MAX_EVENTS} events at once` },
    ]);
  }
  const contents = params.getAll('content');
  if (contents.length > 1 || (contents[0] && !['empty', 'id-only', 'full-resource'].includes(contents[0]))) {
    throw new FhirError('malformed', [
      { code: 'value', diagnostics: 'content is empty, id-only or full-resource', expression: ['content'] },
    ]);
  }
  const content = (contents[0] ?? 'id-only') as PayloadContent;
  ctx.touched.push(`Subscription/${id}`);
  const numbered = new Map<number, string>();
  for (const event of await deliveryEvents(deps.store, id)) {
    const found = eventOf(event);
    if (found && found.number >= since && found.number <= until) numbered.set(found.number, found.version);
  }
  const events: { number: number; timestamp: string; focus?: string }[] = [];
  const entries: BundleEntry[] = [];
  for (const number of [...numbered.keys()].sort((a, b) => a - b)) {
    const [type, resourceId, , versionId] = (numbered.get(number) as string).split('/');
    const current = await readIfExists<Resource>(deps.store, type as ResourceType, resourceId as string);
    if (!current || !isVisible(ctx.principal, current)) continue;
    const version = await deps.store.readVersion<Resource>(
      type as ResourceType,
      resourceId as string,
      versionId as string,
    );
    if (!isVisible(ctx.principal, version)) continue;
    noteDisclosures(ctx, [version]);
    const address = `${type}/${resourceId}`;
    ctx.touched.push(`${address}/_history/${versionId}`);
    events.push({
      number,
      timestamp: version.meta?.lastUpdated ?? '',
      ...(content === 'empty' ? {} : { focus: `${fhirBase}/${address}` }),
    });
    if (content !== 'empty') {
      entries.push({
        fullUrl: `${fhirBase}/${address}`,
        ...(content === 'full-resource' ? { resource: toPublicResource(version) } : {}),
        request: { method: 'PUT', url: address },
        response: { status: '200' },
      });
    }
  }
  const status = subscriptionStatus({
    fhirBase,
    subscriptionId: id,
    state: stateOf(stored) ?? 'off',
    type: 'query-event',
    topic: true,
    eventsSinceStart: count,
    events,
  });
  return {
    resourceType: 'Bundle',
    type: 'history',
    entry: [{ fullUrl: `urn:uuid:${crypto.randomUUID()}`, resource: status }, ...entries],
  };
}
