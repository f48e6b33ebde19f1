import type { AuditEvent, Extension, Resource, ResourceType, Subscription } from '@medplum/fhirtypes';
import type { AuditSink } from '../audit/audit-sink.ts';
import { consentRelied, isVisible, ownerOf, withAccess } from '../auth/tenancy.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import { OWN_SYSTEM, SYSTEM } from '../fhir/systems.ts';
import type { Logger } from '../logger.ts';
import { type FhirStore, readIfExists } from '../medplum/store.ts';
import { BACKPORT } from '../schemas/subscription.ts';
import { checkEndpointUrl, checkResolved, type EndpointPolicy, isRefusal } from './endpoint-rules.ts';
import { type NotifyMessage, OPEN_MODE_OWNER, subscriberOf } from './matching.ts';
import { isTopicBased, notificationBody } from './notification-body.ts';
import { isRunning, type PayloadContent, secretOf } from './subscription-rules.ts';
import { eventNumber, markError } from './subscription-store.ts';

/** What an endpoint answered: its status (a redirect is an answer, never followed). */
export interface SentAnswer {
  status: number;
}

/**
 * Sends one POST, following no redirect, within `signal`, reading at most a few KiB of the answer.
 * Rejects on a network failure or timeout. The Node one also connects only to addresses the
 * endpoint rules allow, whatever the name resolves to by then.
 */
export type Sender = (
  url: URL,
  init: { headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<SentAnswer>;

/** The addresses a host name resolves to now (all of them, IPv4 and IPv6). */
export type Resolver = (host: string) => Promise<string[]>;

export interface DeliveryDeps {
  store: FhirStore;
  clock: () => Date;
  logger: Logger;
  openMode: boolean;
  policy: EndpointPolicy;
  resolve: Resolver;
  send: Sender;
  /** How long an endpoint has to answer. */
  timeoutMs: number;
  /** The service's FHIR base (`https://…/fhir`), for references in notifications. */
  fhirBase: string;
  audit: AuditSink;
}

/** A delivery that failed in a way worth trying again: no answer, a timeout, a 5xx, 408 or 429. */
export class DeliveryFailed extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'DeliveryFailed';
  }
}

const RETRIED_STATUSES = [408, 425, 429];

/**
 * Why a subscription is set to `error` when a notification used up its attempts: the endpoint's
 * failure when the last attempt reached it, otherwise the service's own (its store or queue).
 */
export function deadLetterReason(attempts: number, lastError?: string): string {
  return lastError === 'DeliveryFailed' || lastError === undefined
    ? `The endpoint did not accept a notification in ${attempts} attempts`
    : `A notification could not be sent in ${attempts} attempts: the service could not prepare it (${lastError}); changes since may have been missed`;
}

/**
 * Sends one notification, at least once. Before anything is sent, everything is read again: the
 * subscription (still active, not past its end), the changed version and the resource as it is now
 * (both still visible to the subscriber: access that ended stops the notification), and the
 * endpoint (its name resolved and every address checked). A refused endpoint, or an answer that
 * no retry will change (a redirect, a 4xx other than 408, 425 and 429), puts the subscription in
 * `error` with the reason. No answer, a timeout or a 5xx fails the attempt, for the outbox to try
 * again with backoff. Every attempt that reaches the network is an AuditEvent of a disclosure,
 * readable by the subscriber's organisation.
 */
export async function deliverNotification(
  deps: DeliveryDeps,
  message: NotifyMessage,
  attempt: number,
): Promise<void> {
  const subscription = await readIfExists<Subscription>(deps.store, 'Subscription', message.subscription);
  if (!subscription || !isRunning(subscription, deps.clock())) return;
  const subscriber = subscriberOf(subscription, deps.openMode);
  const type = message.type as ResourceType;
  const current = await readIfExists<Resource>(deps.store, type, message.id);
  if (!subscriber || !current || !isVisible(subscriber, current)) return;
  const version = await deps.store.readVersion<Resource>(type, message.id, message.versionId);
  if (!isVisible(subscriber, version)) return;

  const url = checkEndpointUrl(subscription.channel?.endpoint ?? '', deps.policy);
  if (isRefusal(url)) return markError(deps.store, message.subscription, url.refused);
  const addresses = await resolveOrFail(deps, url.hostname);
  const refusal = checkResolved(url, addresses, deps.policy);
  if (refusal) return markError(deps.store, message.subscription, refusal.refused);

  const topic = isTopicBased(subscription);
  const event = topic ? await eventNumber(deps.store, message.subscription, message.notification) : undefined;
  if (topic && event === undefined) return;
  const { body, contentType } = notificationBody({
    form: topic ? 'topic' : 'criteria',
    content: contentOf(subscription),
    subscriptionId: message.subscription,
    notificationId: message.notification,
    resource: toPublicResource(version),
    fhirBase: deps.fhirBase,
    ...(event ? { event: { number: event, timestamp: version.meta?.lastUpdated ?? message.at } } : {}),
    ...(message.created ? { created: true } : {}),
    now: deps.clock(),
  });
  const headers: Record<string, string> = {
    ...channelHeaders(subscription),
    ...(contentType ? { 'Content-Type': contentType } : {}),
    'X-Notification-ID': message.notification,
    'X-Subscription-ID': message.subscription,
    ...(event ? { 'X-Event-Number': String(event) } : {}),
  };
  const secret = secretOf(subscription);
  if (secret) headers['X-Signature'] = await sign(secret, body);

  const record = (statusCode: number | undefined, outcome: '0' | '4' | '8', desc: string) =>
    deps.audit.record(
      deliveryEvent({
        subscription,
        subscriberOrg: ownerOf(subscription),
        message,
        version,
        attempt,
        event,
        statusCode,
        outcome,
        desc,
        consent: consentRelied(subscriber, version),
        recorded: deps.clock(),
      }),
    );
  let answer: SentAnswer;
  try {
    answer = await deps.send(url, { headers, body, signal: AbortSignal.timeout(deps.timeoutMs) });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    const why = timedOut ? `No answer within ${deps.timeoutMs} ms` : 'The endpoint could not be reached';
    await record(undefined, '8', `${why} (attempt ${attempt})`);
    throw new DeliveryFailed(why);
  }
  const status = answer.status;
  const ok = status >= 200 && status < 300;
  await record(
    status,
    ok ? '0' : status >= 500 || RETRIED_STATUSES.includes(status) ? '8' : '4',
    `HTTP ${status} (attempt ${attempt})`,
  );
  if (ok) return;
  if (status >= 500 || RETRIED_STATUSES.includes(status)) throw new DeliveryFailed(`HTTP ${status}`);
  const why =
    status >= 300 && status < 400
      ? `The endpoint answered ${status}, a redirect, which is not followed; subscribe with the address it redirects to`
      : `The endpoint answered ${status}`;
  await markError(deps.store, message.subscription, why);
}

async function resolveOrFail(deps: DeliveryDeps, host: string): Promise<string[]> {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  if (/^[\d.]+$/.test(bare) || bare.includes(':')) return [bare];
  try {
    return await deps.resolve(bare);
  } catch {
    throw new DeliveryFailed('The endpoint host name could not be resolved');
  }
}

function contentOf(subscription: Subscription): PayloadContent {
  if (!isTopicBased(subscription)) return subscription.channel?.payload ? 'full-resource' : 'empty';
  const payload = (subscription.channel as { _payload?: { extension?: Extension[] } } | undefined)?._payload;
  const code = payload?.extension?.find((e) => e.url === BACKPORT.payloadContent)?.valueCode;
  return code === 'id-only' || code === 'full-resource' ? code : 'empty';
}

/** The subscriber's own headers, `Name: value` each. */
function channelHeaders(subscription: Subscription): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of subscription.channel?.header ?? []) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The hex HMAC-SHA256 of the body with the secret, as Medplum's `X-Signature` is. */
export async function sign(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body)));
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';

/** The subtype that marks an AuditEvent as a delivery attempt (what `$status` and `$events` read). */
export const DELIVERY_SUBTYPE = {
  system: OWN_SYSTEM.notification,
  code: 'rest-hook',
  display: 'Subscription notification',
} as const;

interface DeliveryFacts {
  subscription: Subscription;
  subscriberOrg: string | undefined;
  message: NotifyMessage;
  version: Resource;
  attempt: number;
  event: number | undefined;
  statusCode: number | undefined;
  outcome: '0' | '4' | '8';
  desc: string;
  consent: string | undefined;
  recorded: Date;
}

/**
 * One delivery attempt as an AuditEvent (DICOM 110106 Export): to whom (the subscriber's
 * organisation), what (the subscription, the notification with its attempt and answer, the
 * version sent, and the person's Consent where the subscriber sees it as a care-team member),
 * when and how it went. References only, as every AuditEvent here.
 */
export function deliveryEvent(f: DeliveryFacts): AuditEvent {
  const org = f.subscriberOrg && f.subscriberOrg !== OPEN_MODE_OWNER ? f.subscriberOrg : undefined;
  const detail = [
    { type: 'attempt', valueString: String(f.attempt) },
    ...(f.statusCode === undefined ? [] : [{ type: 'status-code', valueString: String(f.statusCode) }]),
    ...(f.event === undefined ? [] : [{ type: 'event-number', valueString: String(f.event) }]),
  ];
  return withAccess<AuditEvent>(
    {
      resourceType: 'AuditEvent',
      type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110106', display: 'Export' },
      subtype: [DELIVERY_SUBTYPE],
      action: 'E',
      recorded: f.recorded.toISOString(),
      outcome: f.outcome,
      outcomeDesc: f.desc,
      agent: [
        {
          who: { display: 'Social prescribing FHIR facade' },
          requestor: true,
        },
        ...(org
          ? [{ who: { identifier: { system: SYSTEM.odsOrganization, value: org } }, requestor: false }]
          : []),
      ],
      source: { observer: { display: 'Social prescribing FHIR facade' } },
      entity: [
        {
          what: { reference: `Subscription/${f.message.subscription}` },
          role: { system: OBJECT_ROLE, code: '9', display: 'Subscriber' },
        },
        {
          what: { identifier: { system: OWN_SYSTEM.notification, value: f.message.notification } },
          type: {
            system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
            code: '4',
            display: 'Other',
          },
          detail,
        },
        {
          what: { reference: `${f.message.type}/${f.message.id}/_history/${f.message.versionId}` },
          role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
        },
        ...(f.consent
          ? [
              {
                what: { reference: f.consent },
                role: { system: OBJECT_ROLE, code: '13', display: 'Security Resource' },
              },
            ]
          : []),
      ],
    },
    org ? [org] : [],
  );
}
