import type { Subscription } from '@medplum/fhirtypes';
import { FhirError, type Issue } from '../fhir/outcomes.ts';
import { CANONICAL_BASE, OWN_SYSTEM } from '../fhir/systems.ts';
import { BACKPORT, SECRET_EXTENSION, type SubscriptionInput } from '../schemas/subscription.ts';

/**
 * The rules of a subscription as this service keeps it. Pure: no store, no network.
 *
 * A subscription is stored in the FHIR store with `status` `off` and its real state in a tag of
 * the service's own: Medplum runs every `active` rest-hook Subscription in its project itself, and
 * it would send each one everything that matches, past the sharing rules, which only this service
 * applies. Callers see the state as `status`, never the tag.
 */

/** Types a subscription may watch: a referral's request and Task, the care plan, the answers. */
export const SUBSCRIBABLE_TYPES = ['Task', 'ServiceRequest', 'CarePlan', 'QuestionnaireResponse'] as const;
export type SubscribableType = (typeof SUBSCRIBABLE_TYPES)[number];

export function isSubscribable(type: string): type is SubscribableType {
  return (SUBSCRIBABLE_TYPES as readonly string[]).includes(type);
}

/** The one topic offered in the Backport IG's topic-based form: a referral's Task changed status. */
export const REFERRAL_TASK_STATUS_TOPIC = `${CANONICAL_BASE}/SubscriptionTopic/referral-task-status`;

/** The states a subscription is in (https://hl7.org/fhir/R4/valueset-subscription-status.html). */
export type SubscriptionState = 'requested' | 'active' | 'error' | 'off';

/** How much of the resource a notification carries. */
export type PayloadContent = 'empty' | 'id-only' | 'full-resource';

/** A subscription's meaning, read from what the client sent. */
export interface SubscriptionSpec {
  /** `criteria`: an R4 search; `topic`: the Backport IG's topic with filters. */
  form: 'criteria' | 'topic';
  /** The watched type and the searches a change must match (all of them). */
  type: SubscribableType;
  filters: string[];
  content: PayloadContent;
  endpoint: string;
  secret: string | undefined;
  /** What the client asked for: `off` pauses it; anything else asks for it to run. */
  wantsOn: boolean;
}

const bad = (diagnostics: string, at: string): Issue => ({ code: 'value', diagnostics, expression: [at] });

/**
 * What a subscription asks for, or every reason it cannot be served, at once. Criteria are checked
 * further by the caller (`parseSearchCriteria`) and the endpoint by `checkEndpointUrl`.
 */
export function readSpec(input: SubscriptionInput): SubscriptionSpec {
  const issues: Issue[] = [];
  const unknown = (list: { url: string }[] | undefined, known: string[], at: string) => {
    for (const e of list ?? []) {
      if (!known.includes(e.url))
        issues.push(bad(`The extension ${safeUrl(e.url)} is not supported here`, at));
    }
  };
  unknown(input.extension, [SECRET_EXTENSION], 'Subscription.extension');
  unknown(input._criteria?.extension, [BACKPORT.filterCriteria], 'Subscription.criteria.extension');
  unknown(
    input.channel._payload?.extension,
    [BACKPORT.payloadContent],
    'Subscription.channel.payload.extension',
  );
  const secretExt = input.extension?.find((e) => e.url === SECRET_EXTENSION);
  const secret = secretExt?.valueString as string | undefined;
  if (secretExt && (typeof secret !== 'string' || secret.length < 16 || secret.length > 256)) {
    issues.push(
      bad('The subscription secret is a valueString of 16 to 256 characters', 'Subscription.extension'),
    );
  }
  const filters = (input._criteria?.extension ?? [])
    .filter((e) => e.url === BACKPORT.filterCriteria)
    .map((e) => e.valueString as string | undefined);
  const contentCode = input.channel._payload?.extension?.find((e) => e.url === BACKPORT.payloadContent)
    ?.valueCode as string | undefined;
  const topic = !input.criteria.includes('?') && /^https?:\/\//.test(input.criteria);
  let spec: SubscriptionSpec;
  if (topic) {
    if (input.criteria !== REFERRAL_TASK_STATUS_TOPIC) {
      issues.push(bad(`The only topic offered is ${REFERRAL_TASK_STATUS_TOPIC}`, 'Subscription.criteria'));
    }
    if (!filters.every((f): f is string => typeof f === 'string' && f.length > 0)) {
      issues.push(
        bad('Each filter criteria extension holds a valueString search', 'Subscription.criteria.extension'),
      );
    }
    if (!input.channel.payload || !['empty', 'id-only', 'full-resource'].includes(String(contentCode))) {
      issues.push(
        bad(
          'A topic-based subscription names channel.payload and its content (empty, id-only or full-resource) in the backport-payload-content extension',
          'Subscription.channel.payload',
        ),
      );
    }
    spec = {
      form: 'topic',
      type: 'Task',
      filters: filters.filter((f): f is string => typeof f === 'string'),
      content: (contentCode as PayloadContent | undefined) ?? 'empty',
      endpoint: input.channel.endpoint,
      secret,
      wantsOn: input.status !== 'off',
    };
  } else {
    const type = /^([A-Za-z]+)(\?|$)/.exec(input.criteria)?.[1] ?? '';
    if (!isSubscribable(type)) {
      issues.push(
        bad(
          `Subscription.criteria searches one of ${SUBSCRIBABLE_TYPES.join(', ')} (Type?parameters), or names the topic ${REFERRAL_TASK_STATUS_TOPIC}`,
          'Subscription.criteria',
        ),
      );
    }
    if (filters.length || contentCode !== undefined) {
      issues.push(
        bad(
          'Filter criteria and payload content belong to a topic-based subscription',
          'Subscription.criteria',
        ),
      );
    }
    spec = {
      form: 'criteria',
      type: isSubscribable(type) ? type : 'Task',
      filters: [input.criteria],
      content: input.channel.payload ? 'full-resource' : 'empty',
      endpoint: input.channel.endpoint,
      secret,
      wantsOn: input.status !== 'off',
    };
  }
  // A subscription that cannot be served as asked is a bad request, never one that never fires.
  if (issues.length) throw new FhirError('malformed', issues);
  return spec;
}

/** A URL quoted in a refusal: only when it is plainly a URL, and bounded. */
function safeUrl(url: string): string {
  return /^[\w:/.#-]{1,200}$/.test(url) ? url : 'given';
}

/** A fresh secret for a subscription that named none: 32 random bytes, hex. */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The state a subscription is in, from its stored form; undefined for one this service did not write. */
export function stateOf(stored: Subscription): SubscriptionState | undefined {
  const code = stored.meta?.tag?.find((t) => t.system === OWN_SYSTEM.subscriptionState)?.code;
  return code === 'requested' || code === 'active' || code === 'error' || code === 'off' ? code : undefined;
}

/** The secret notifications are signed with. */
export function secretOf(stored: Subscription): string | undefined {
  return stored.extension?.find((e) => e.url === SECRET_EXTENSION)?.valueString;
}

/**
 * The stored form of what the client sent: `status` `off` for the store, the state in the tag,
 * the secret (given or made), and no `error` (the service's to set).
 */
export function toStored(
  input: SubscriptionInput,
  state: SubscriptionState,
  secret: string,
  error?: string,
): Subscription {
  const { meta, error: _ignored, extension, status: _status, ...rest } = input;
  const profile = meta?.profile?.filter((p) => p === BACKPORT.profile);
  return {
    ...rest,
    status: 'off',
    ...(error ? { error } : {}),
    extension: [
      ...(extension ?? []).filter((e) => e.url !== SECRET_EXTENSION),
      { url: SECRET_EXTENSION, valueString: secret },
    ],
    meta: {
      ...(profile?.length ? { profile } : {}),
      tag: [{ system: OWN_SYSTEM.subscriptionState, code: state }],
    },
  } as Subscription;
}

/** The stored subscription in another state (and with its error, when it is `error`). */
export function withState(stored: Subscription, state: SubscriptionState, error?: string): Subscription {
  const tag = (stored.meta?.tag ?? []).filter((t) => t.system !== OWN_SYSTEM.subscriptionState);
  const { error: _previous, ...rest } = stored;
  return {
    ...rest,
    ...(state === 'error' && error ? { error } : {}),
    meta: { ...stored.meta, tag: [...tag, { system: OWN_SYSTEM.subscriptionState, code: state }] },
  };
}

/** The subscription as its owner sees it: its state as `status`, the state tag and event count gone. */
export function toSubscriberView(stored: Subscription): Subscription {
  const tag = stored.meta?.tag?.filter((t) => t.system !== OWN_SYSTEM.subscriptionState);
  const meta = { ...stored.meta };
  if (tag?.length) meta.tag = tag;
  else delete meta.tag;
  // The count of its events is the service's own (the owner reads it in `$status`).
  const extension = stored.extension?.filter((e) => e.url !== OWN_SYSTEM.subscriptionEvents);
  return { ...stored, status: stateOf(stored) ?? 'off', meta, ...(extension ? { extension } : {}) };
}

/** Whether a subscription is to be told of changes at `now`: active and not past its `end`. */
export function isRunning(stored: Subscription, now: Date): boolean {
  if (stateOf(stored) !== 'active') return false;
  return !stored.end || Date.parse(stored.end) > now.getTime();
}
