import { Hono } from 'hono';
import { DIRECTORY_TYPES } from '../directory/directory-rules.ts';
import { importOpenReferral } from '../directory/import-open-referral.ts';
import { IMPORT_DEFINITION, IMPORT_OPERATION, importParameters } from '../directory/import-operation.ts';
import { searchNear } from '../directory/near-search.ts';
import {
  type DirectoryDeps,
  patchDirectoryEntry,
  registerDirectoryEntry,
  updateDirectoryEntry,
} from '../directory/register.ts';
import { assertOnlyParams, RESPONSE_PARAMS } from '../fhir/search-values.ts';
import { asRead } from '../fhir/subset.ts';
import type { AppEnv } from '../http/env.ts';
import { searchHandling } from '../http/prefer.ts';
import { queryOf } from '../http/query.ts';
import { sendFhir, sendResource } from '../http/respond.ts';
import { searchFormParams } from '../http/search-form.ts';
import { searchResources } from '../resources/read-resources.ts';
import { type FhirFeature, sendCreated, updateRoute } from './feature.ts';

/**
 * The directory of organisations, services and places: registered and changed by clients with
 * directory scopes, read and searched by every client (the read routes), `Location?near=`
 * answered here.
 */
export function directoryRoutes(deps: DirectoryDeps): FhirFeature {
  const routes = new Hono<AppEnv>();
  for (const type of DIRECTORY_TYPES) {
    routes
      .post(`/${type}`, async (c) => {
        const result = await registerDirectoryEntry(
          deps,
          c.get('ctx'),
          type,
          c.get('body'),
          c.req.header('if-none-exist'),
        );
        return sendCreated(c, result.resource, result.created ? 'created' : 'matched');
      })
      .put(
        `/${type}/:id`,
        updateRoute((ctx, id, body, ifMatch) => updateDirectoryEntry(deps, ctx, type, id, body, ifMatch)),
      )
      .patch(
        `/${type}/:id`,
        updateRoute((ctx, id, body, ifMatch) => patchDirectoryEntry(deps, ctx, type, id, body, ifMatch)),
      );
  }
  routes
    .post(`/HealthcareService/:operation{\\$${IMPORT_OPERATION}}`, async (c) => {
      assertOnlyParams(queryOf(c.req.url), ['source', ...RESPONSE_PARAMS], `$${IMPORT_OPERATION}`);
      return sendFhir(
        c,
        importParameters(await importOpenReferral(deps, c.get('ctx'), c.get('body'), c.req.query('source'))),
      );
    })
    .get(`/OperationDefinition/${IMPORT_OPERATION}`, (c) =>
      sendResource(c, asRead(IMPORT_DEFINITION, queryOf(c.req.url))),
    );
  // Without `near`, a Location search is the store's, like any other (the read routes).
  routes
    .get('/Location', async (c, next) => {
      const params = new URL(c.req.url).searchParams;
      if (!params.has('near')) return next();
      return sendFhir(c, await searchNear(deps.store, c.get('ctx'), params, c.get('baseUrl')));
    })
    // The form is read once, so both kinds of search are answered here.
    .post('/Location/_search', async (c) => {
      const params = await searchFormParams(c);
      const ctx = c.get('ctx');
      const base = c.get('baseUrl');
      return sendFhir(
        c,
        params.has('near')
          ? await searchNear(deps.store, ctx, params, base)
          : await searchResources(deps.store, ctx, 'Location', params, base, searchHandling(c)),
      );
    });
  return {
    routes,
    capabilities: DIRECTORY_TYPES.map((type) => ({
      type,
      interactions: ['create', 'update', 'patch'],
      conditionalCreate: true,
      ...(type === 'HealthcareService'
        ? { operations: [{ name: IMPORT_OPERATION, definition: IMPORT_DEFINITION.url as string }] }
        : {}),
      ...(type === 'Location'
        ? {
            searchParams: [
              {
                name: 'near',
                type: 'special',
                definition: 'http://hl7.org/fhir/SearchParameter/Location-near',
              },
            ],
          }
        : {}),
    })),
  };
}
