import { type Context, Hono } from 'hono';
import { Failures } from '../fhir/outcomes.ts';
import { READABLE_RESOURCE_TYPES } from '../fhir/resource-types.ts';
import type { AppEnv } from '../http/env.ts';
import { searchHandling } from '../http/prefer.ts';
import { queryOf } from '../http/query.ts';
import { sendFhir, sendResource } from '../http/respond.ts';
import { searchFormParams } from '../http/search-form.ts';
import type { FhirStore } from '../resources/ports.ts';
import {
  readResource,
  readResourceHistory,
  readResourceVersion,
  searchResources,
} from '../resources/read-resources.ts';
import type { FhirFeature } from './feature.ts';

/** The read surface over the store: read, vread, history and search for every served type. */
export function resourceReadRoutes(store: FhirStore): FhirFeature {
  // A search by GET or by POST (a form, with the URL's parameters too) is answered alike.
  const search = async (c: Context<AppEnv>, params: URLSearchParams) =>
    sendFhir(
      c,
      await searchResources(
        store,
        c.get('ctx'),
        c.req.param('type') as string,
        params,
        c.get('baseUrl'),
        searchHandling(c),
      ),
    );
  const routes = new Hono<AppEnv>()
    .get('/:type/:id/_history/:vid', async (c) => {
      const { type, id, vid } = c.req.param();
      return sendResource(
        c,
        await readResourceVersion(store, c.get('ctx'), type, id, vid, queryOf(c.req.url)),
      );
    })
    .get('/:type/_history', () => {
      throw Failures.notServed('History of a whole type is not served; read the history of one resource');
    })
    .get('/:type/:id/_history', async (c) => {
      const { type, id } = c.req.param();
      return sendFhir(
        c,
        await readResourceHistory(store, c.get('ctx'), type, id, c.get('baseUrl'), queryOf(c.req.url)),
      );
    })
    .get('/:type/:id', async (c) => {
      const { type, id } = c.req.param();
      return sendResource(c, await readResource(store, c.get('ctx'), type, id, queryOf(c.req.url)));
    })
    // Search by POST (https://hl7.org/fhir/R4/http.html#search): the form's parameters and the URL's, together.
    .post('/:type/_search', async (c) => search(c, await searchFormParams(c)))
    .get('/:type', async (c) => search(c, new URL(c.req.url).searchParams));

  return {
    routes,
    capabilities: READABLE_RESOURCE_TYPES.map((type) => ({
      type,
      interactions: ['read', 'vread', 'history-instance', 'search-type'],
      searchable: true,
      conditionalRead: true,
    })),
  };
}
