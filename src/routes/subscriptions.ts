import type { Bundle, Subscription } from '@medplum/fhirtypes';
import { Hono } from 'hono';
import { toPublicResource } from '../fhir/public-view.ts';
import { assertOnlyParams, RESPONSE_PARAMS } from '../fhir/search-values.ts';
import type { AppEnv } from '../http/env.ts';
import { queryOf } from '../http/query.ts';
import { sendFhir, sendResource } from '../http/respond.ts';
import { BACKPORT } from '../schemas/subscription.ts';
import { subscriptionEvents, subscriptionStatusOf } from '../subscriptions/status.ts';
import { toSubscriberView } from '../subscriptions/subscription-rules.ts';
import {
  createSubscription,
  deleteSubscription,
  readSubscription,
  type SubscriptionDeps,
  searchSubscriptions,
  updateSubscription,
} from '../subscriptions/subscriptions.ts';
import { type FhirFeature, sendCreated, updateRoute } from './feature.ts';

/**
 * Subscriptions (R4 rest-hook, and the Backport IG's topic-based form for one topic), kept per
 * organisation: create, read, update with `If-Match`, delete, search, and `$status`.
 */
export function subscriptionRoutes(deps: SubscriptionDeps): FhirFeature {
  const view = (s: Subscription) => toSubscriberView(s);
  const routes = new Hono<AppEnv>()
    .post('/Subscription', async (c) => {
      const created = await createSubscription(deps, c.get('ctx'), c.get('body'));
      return sendCreated(c, view(created), 'created');
    })
    .get('/Subscription/:id/:operation{\\$status}', async (c) => {
      assertOnlyParams(queryOf(c.req.url), RESPONSE_PARAMS, '$status');
      const fhirBase = `${c.get('baseUrl')}/fhir`;
      return sendFhir(c, await subscriptionStatusOf(deps, c.get('ctx'), c.req.param('id'), fhirBase));
    })
    .get('/Subscription/:id/:operation{\\$events}', async (c) => {
      const query = queryOf(c.req.url);
      assertOnlyParams(
        query,
        [...RESPONSE_PARAMS, 'eventsSinceNumber', 'eventsUntilNumber', 'content'],
        '$events',
      );
      const fhirBase = `${c.get('baseUrl')}/fhir`;
      return sendFhir(c, await subscriptionEvents(deps, c.get('ctx'), c.req.param('id'), query, fhirBase));
    })
    .get('/Subscription/:id', async (c) => {
      assertOnlyParams(queryOf(c.req.url), RESPONSE_PARAMS, 'A read of a Subscription');
      const stored = await readSubscription(deps, c.get('ctx'), c.req.param('id'));
      return sendResource(c, toPublicResource(view(stored)));
    })
    .put(
      '/Subscription/:id',
      updateRoute(async (ctx, id, body, ifMatch) =>
        view(await updateSubscription(deps, ctx, id, body, ifMatch)),
      ),
    )
    .delete('/Subscription/:id', async (c) => {
      await deleteSubscription(deps, c.get('ctx'), c.req.param('id'));
      return c.body(null, 204);
    })
    .get('/Subscription', async (c) => {
      const found = await searchSubscriptions(deps, c.get('ctx'), queryOf(c.req.url));
      const base = `${c.get('baseUrl')}/fhir`;
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'searchset',
        total: found.length,
        link: [{ relation: 'self', url: `${base}/Subscription${new URL(c.req.url).search}` }],
        entry: found.map((s) => ({
          fullUrl: `${base}/Subscription/${s.id}`,
          resource: toPublicResource(view(s)),
          search: { mode: 'match' },
        })),
      };
      return sendFhir(c, bundle);
    });
  return {
    routes,
    capabilities: [
      {
        type: 'Subscription',
        interactions: ['create', 'read', 'update', 'delete', 'search-type'],
        searchParams: [
          { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
          {
            name: 'status',
            type: 'token',
            definition: 'http://hl7.org/fhir/SearchParameter/Subscription-status',
          },
        ],
        profiles: [BACKPORT.profile],
        operations: [
          { name: 'status', definition: BACKPORT.statusOperation },
          { name: 'events', definition: BACKPORT.eventsOperation },
        ],
      },
    ],
  };
}
