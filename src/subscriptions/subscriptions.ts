import type { Bundle, ResourceType, Subscription } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { isVisible, scopedQuery, withAccess, withOwner } from '../auth/tenancy.ts';
import { Failures, FhirError, invalidBody } from '../fhir/outcomes.ts';
import { assertOnlyParams } from '../fhir/search-values.ts';
import { OWN_SYSTEM } from '../fhir/systems.ts';
import { type FhirStore, readIfExists } from '../medplum/store.ts';
import { type SubscriptionInput, SubscriptionInputSchema } from '../schemas/subscription.ts';
import { parseSearchCriteria } from '../workflow/conditional-criteria.ts';
import { beginUpdate, replacementOf } from '../workflow/versioned-update.ts';
import type { Resolver } from './delivery.ts';
import { checkEndpointUrl, checkResolved, type EndpointPolicy, isRefusal } from './endpoint-rules.ts';
import { OPEN_MODE_OWNER } from './matching.ts';
import {
  newSecret,
  readSpec,
  type SubscriptionSpec,
  secretOf,
  stateOf,
  toStored,
} from './subscription-rules.ts';

export interface SubscriptionDeps {
  store: FhirStore;
  policy: EndpointPolicy;
  resolve: Resolver;
  /** Told after a subscription is created, changed or deleted (matching reads them again). */
  changed?: () => void;
}

/** Subscriptions one organisation may keep: each is matched against every change it may see. */
export const MAX_PER_ORGANISATION = 100;

const CRITERIA_WORDS = { criteria: 'Subscription.criteria', within: 'in subscription criteria' };

/** The subscription the caller keeps, or not found (another organisation's is not found either). */
export async function ownSubscription(
  deps: SubscriptionDeps,
  ctx: RequestContext,
  id: string,
): Promise<Subscription> {
  const stored = await readIfExists<Subscription>(deps.store, 'Subscription', id);
  if (!stored || stateOf(stored) === undefined || !isVisible(ctx.principal, stored))
    throw Failures.notFound();
  return stored;
}

/**
 * Everything a subscription must be to be served, checked before it is stored: its shape, its
 * criteria (each a search of the watched type this service answers, decided by the resource
 * itself), that the caller may read what it watches, and its endpoint (resolved, every address
 * allowed). Any problem is a 400 naming it: never a subscription that silently never fires.
 */
async function checkedInput(
  deps: SubscriptionDeps,
  ctx: RequestContext,
  body: unknown,
): Promise<{ input: SubscriptionInput; spec: SubscriptionSpec }> {
  const parsed = SubscriptionInputSchema.safeParse(body);
  if (!parsed.success) throw invalidBody(parsed.error);
  const input = parsed.data;
  const spec = readSpec(input);
  for (const filter of spec.filters) {
    const query = filter.slice(filter.indexOf('?') + 1);
    if (filter.includes('?') && query === '') continue;
    parseSearchCriteria(spec.type as ResourceType, filter, 'Subscription.criteria', CRITERIA_WORDS);
  }
  authorize(ctx.principal, spec.type, 'r');
  const url = checkEndpointUrl(spec.endpoint, deps.policy);
  if (isRefusal(url)) throw Failures.badRequest(url.refused, ['Subscription.channel.endpoint']);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = /^[\d.]+$/.test(host) || host.includes(':') ? [host] : await deps.resolve(host);
  } catch {
    addresses = [];
  }
  const refusal = checkResolved(url, addresses, deps.policy);
  if (refusal) throw Failures.badRequest(refusal.refused, ['Subscription.channel.endpoint']);
  return { input, spec };
}

/** Whose a new subscription is: the caller's organisation (the open local mode's own marker there). */
function ownerOfCaller(ctx: RequestContext): string {
  return ctx.principal.organization ?? OPEN_MODE_OWNER;
}

function labelled(stored: Subscription, ctx: RequestContext): Subscription {
  const org = ctx.principal.organization;
  return withOwner(org ? withAccess(stored, [org]) : stored, ownerOfCaller(ctx));
}

/** `POST /Subscription`: stored as the caller's organisation's, active at once unless asked off. */
export async function createSubscription(
  deps: SubscriptionDeps,
  ctx: RequestContext,
  body: unknown,
): Promise<Subscription> {
  authorize(ctx.principal, 'Subscription', 'c');
  const { input, spec } = await checkedInput(deps, ctx, body);
  const kept = await deps.store.search(
    'Subscription',
    scopedQuery(ctx.principal, 'Subscription', new URLSearchParams({ _count: '0', _total: 'accurate' })),
  );
  if ((kept.total ?? 0) >= MAX_PER_ORGANISATION) {
    throw new FhirError('invalid', [
      {
        code: 'too-costly',
        diagnostics: `An organisation keeps at most ${MAX_PER_ORGANISATION} subscriptions; delete one first`,
      },
    ]);
  }
  const { id: _id, ...withoutId } = input;
  const stored = toStored(
    withoutId as SubscriptionInput,
    spec.wantsOn ? 'active' : 'off',
    spec.secret ?? newSecret(),
  );
  const created = await deps.store.create(labelled(stored, ctx));
  deps.changed?.();
  ctx.touched.push(`Subscription/${created.id}`);
  return created;
}

/** `GET /Subscription/{id}`. */
export async function readSubscription(
  deps: SubscriptionDeps,
  ctx: RequestContext,
  id: string,
): Promise<Subscription> {
  authorize(ctx.principal, 'Subscription', 'r');
  const stored = await ownSubscription(deps, ctx, id);
  ctx.touched.push(`Subscription/${id}`);
  return stored;
}

/**
 * `PUT /Subscription/{id}` with `If-Match`: replaced as sent; `status` `off` pauses it, anything
 * else (re)starts it, clearing an error. The secret is kept unless a new one is sent.
 */
export async function updateSubscription(
  deps: SubscriptionDeps,
  ctx: RequestContext,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<Subscription> {
  const { stored } = await beginUpdate<Subscription>(deps.store, ctx, 'Subscription', id, ifMatch);
  if (stateOf(stored) === undefined) throw Failures.notFound();
  replacementOf('Subscription', id, body);
  const { input, spec } = await checkedInput(deps, ctx, body);
  const secret = spec.secret ?? secretOf(stored) ?? newSecret();
  const next = toStored(input, spec.wantsOn ? 'active' : 'off', secret);
  const events = stored.extension?.filter((e) => e.url === OWN_SYSTEM.subscriptionEvents) ?? [];
  const replaced: Subscription = {
    ...next,
    id,
    extension: [...(next.extension ?? []), ...events],
    meta: { ...next.meta, security: stored.meta?.security ?? [] },
  };
  const updated = await deps.store.update(replaced, { ifMatchVersion: stored.meta?.versionId as string });
  deps.changed?.();
  ctx.touched.push(`Subscription/${id}`);
  return updated;
}

/** `DELETE /Subscription/{id}`: nothing more is sent for it, including what is queued. */
export async function deleteSubscription(
  deps: SubscriptionDeps,
  ctx: RequestContext,
  id: string,
): Promise<void> {
  authorize(ctx.principal, 'Subscription', 'd');
  await ownSubscription(deps, ctx, id);
  await deps.store.delete('Subscription', id);
  deps.changed?.();
  ctx.touched.push(`Subscription/${id}`);
}

const STATES = ['requested', 'active', 'error', 'off'];

/** `GET /Subscription`: the caller's organisation's subscriptions, by `_id` and `status`. */
export async function searchSubscriptions(
  deps: SubscriptionDeps,
  ctx: RequestContext,
  params: URLSearchParams,
): Promise<Subscription[]> {
  authorize(ctx.principal, 'Subscription', 's');
  assertOnlyParams(params, ['_id', 'status', '_format', '_pretty'], 'A search of Subscription');
  const query = new URLSearchParams({ _count: String(MAX_PER_ORGANISATION), _sort: '_lastUpdated' });
  const ids = params.getAll('_id');
  if (ids.length) query.set('_id', ids.join(','));
  const statuses = params.getAll('status').flatMap((s) => s.split(','));
  if (statuses.some((s) => !STATES.includes(s))) {
    throw Failures.badRequest(`status is one of ${STATES.join(', ')}`, ['status']);
  }
  const wanted = statuses.length ? statuses : STATES;
  query.set('_tag', wanted.map((s) => `${OWN_SYSTEM.subscriptionState}|${s}`).join(','));
  const bundle: Bundle = await deps.store.search(
    'Subscription',
    scopedQuery(ctx.principal, 'Subscription', query),
  );
  const found = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource as Subscription] : []));
  return found.filter((s) => isVisible(ctx.principal, s));
}
