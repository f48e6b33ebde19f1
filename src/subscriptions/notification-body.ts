import type {
  Bundle,
  BundleEntry,
  Parameters,
  ParametersParameter,
  Resource,
  Subscription,
} from '@medplum/fhirtypes';
import { BACKPORT } from '../schemas/subscription.ts';
import {
  type PayloadContent,
  REFERRAL_TASK_STATUS_TOPIC,
  type SubscriptionState,
} from './subscription-rules.ts';

/** One event of a topic-based subscription. */
export interface TopicEvent {
  /** Its number among the subscription's events, from 1. */
  number: number;
  /** When the change was stored. */
  timestamp: string;
}

export interface NotificationFacts {
  /** `criteria`: the R4 form; `topic`: the Backport IG's. */
  form: 'criteria' | 'topic';
  content: PayloadContent;
  subscriptionId: string;
  notificationId: string;
  /** The version that changed, as its subscriber may see it. */
  resource: Resource;
  /** The service's FHIR base, for `fullUrl`s: `https://…/fhir`. */
  fhirBase: string;
  /** Topic-based only. */
  event?: TopicEvent;
  /** Whether the change created the resource (its first version). */
  created?: boolean;
  now: Date;
}

/** A notification's body and its content type (none for an empty body). */
export interface NotificationBody {
  body: string;
  contentType?: string;
}

/**
 * What a notification carries. The R4 form: the resource as FHIR JSON, or an empty body when the
 * subscription names no payload. The topic form: a `history` Bundle whose first entry is the
 * SubscriptionStatus (Parameters, with the event number), then the resource (full-resource), its
 * address only (id-only), or nothing more (empty).
 */
export function notificationBody(facts: NotificationFacts): NotificationBody {
  if (facts.form === 'criteria') {
    return facts.content === 'empty'
      ? { body: '' }
      : { body: JSON.stringify(facts.resource), contentType: 'application/fhir+json' };
  }
  const { resource, fhirBase } = facts;
  const address = `${resource.resourceType}/${resource.id}`;
  const status = subscriptionStatus({
    fhirBase,
    subscriptionId: facts.subscriptionId,
    id: facts.notificationId,
    state: 'active',
    type: 'event-notification',
    topic: true,
    eventsSinceStart: facts.event?.number ?? 0,
    events: facts.event
      ? [{ ...facts.event, ...(facts.content === 'empty' ? {} : { focus: `${fhirBase}/${address}` }) }]
      : [],
  });
  const focus: BundleEntry[] =
    facts.content === 'empty'
      ? []
      : [
          {
            fullUrl: `${fhirBase}/${address}`,
            ...(facts.content === 'full-resource' ? { resource } : {}),
            request: facts.created
              ? { method: 'POST', url: resource.resourceType }
              : { method: 'PUT', url: address },
            response: { status: facts.created ? '201' : '200' },
          },
        ];
  const bundle: Bundle = {
    resourceType: 'Bundle',
    id: facts.notificationId,
    type: 'history',
    timestamp: facts.now.toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:${facts.notificationId}`,
        resource: status,
        request: { method: 'GET', url: `Subscription/${facts.subscriptionId}/$status` },
        response: { status: '200' },
      },
      ...focus,
    ],
  };
  return { body: JSON.stringify(bundle), contentType: 'application/fhir+json' };
}

/** One delivery attempt, as `$status` lists it. */
export interface DeliveryRecord {
  at: string;
  notification: string;
  attempt: number;
  /** The endpoint's HTTP status; absent when none came (refused, timed out, unreachable). */
  statusCode?: number;
  outcome: 'delivered' | 'failed';
}

export interface StatusFacts {
  fhirBase: string;
  subscriptionId: string;
  id?: string;
  state: SubscriptionState;
  type: 'event-notification' | 'query-status' | 'query-event';
  /** Topic-based: the topic is named. */
  topic: boolean;
  eventsSinceStart?: number;
  events?: (TopicEvent & { focus?: string })[];
  error?: string;
  deliveries?: DeliveryRecord[];
}

/**
 * A SubscriptionStatus as the Backport IG writes it in R4 (a Parameters resource), for a
 * notification and for `$status`. `$status` adds the latest deliveries (`delivery`, a parameter
 * of this service's: time, notification id, attempt, status code, outcome), never their payloads.
 */
export function subscriptionStatus(facts: StatusFacts): Parameters {
  const parameter: ParametersParameter[] = [
    {
      name: 'subscription',
      valueReference: { reference: `${facts.fhirBase}/Subscription/${facts.subscriptionId}` },
    },
    ...(facts.topic ? [{ name: 'topic', valueCanonical: REFERRAL_TASK_STATUS_TOPIC }] : []),
    { name: 'status', valueCode: facts.state },
    { name: 'type', valueCode: facts.type },
  ];
  if (facts.eventsSinceStart !== undefined) {
    parameter.push({ name: 'events-since-subscription-start', valueString: String(facts.eventsSinceStart) });
  }
  for (const event of facts.events ?? []) {
    parameter.push({
      name: 'notification-event',
      part: [
        { name: 'event-number', valueString: String(event.number) },
        { name: 'timestamp', valueInstant: event.timestamp },
        ...(event.focus ? [{ name: 'focus', valueReference: { reference: event.focus } }] : []),
      ],
    });
  }
  if (facts.error) parameter.push({ name: 'error', valueCodeableConcept: { text: facts.error } });
  for (const d of facts.deliveries ?? []) {
    parameter.push({
      name: 'delivery',
      part: [
        { name: 'time', valueInstant: d.at },
        { name: 'notification', valueString: d.notification },
        { name: 'attempt', valueInteger: d.attempt },
        ...(d.statusCode === undefined ? [] : [{ name: 'status-code', valueInteger: d.statusCode }]),
        { name: 'outcome', valueCode: d.outcome },
      ],
    });
  }
  return {
    resourceType: 'Parameters',
    ...(facts.id ? { id: facts.id } : {}),
    meta: { profile: [BACKPORT.statusProfile] },
    parameter,
  };
}

/** Whether the stored subscription is topic-based. */
export function isTopicBased(subscription: Subscription): boolean {
  return subscription.criteria === REFERRAL_TASK_STATUS_TOPIC;
}
