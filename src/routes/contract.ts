import type { Parameters } from '@medplum/fhirtypes';
import { Hono } from 'hono';
import { PROFILE_OF } from '../fhir/profiles.ts';
import type { AppEnv } from '../http/env.ts';
import { sendFhir, sendResource } from '../http/respond.ts';
import {
  expandValueSet,
  readDefinition,
  readProfile,
  validateCode,
  validateResource,
} from '../resources/contract.ts';
import type { FhirFeature } from './feature.ts';

/** Reads the inputs of `$validate-code` from the query, or from a Parameters body. */
function codeParams(query: URLSearchParams, body: unknown) {
  const parameters = (body as Parameters | undefined)?.parameter ?? [];
  const value = (name: string) => {
    const p = parameters.find((x) => x.name === name);
    return p?.valueUri ?? p?.valueCode ?? p?.valueString ?? query.get(name) ?? undefined;
  };
  const coding = parameters.find((x) => x.name === 'coding')?.valueCoding;
  return {
    url: value('url'),
    system: coding?.system ?? value('system'),
    code: coding?.code ?? value('code'),
    display: coding?.display ?? value('display'),
  };
}

/**
 * The contract the service publishes: its profiles, value sets and code systems, `$expand` and
 * `$validate-code` on its value sets, and `$validate` of any resource it accepts. Reading the
 * contract needs no token; `$validate` does.
 */
export function contractRoutes(clock: () => Date): FhirFeature {
  const routes = new Hono<AppEnv>()
    .get('/StructureDefinition/:id', async (c) => sendResource(c, await readProfile(c.req.param('id'))))
    .get('/ValueSet/:operation{\\$expand}', (c) =>
      sendFhir(c, expandValueSet({ url: c.req.query('url') }, clock())),
    )
    .get('/ValueSet/:id/:operation{\\$expand}', (c) =>
      sendFhir(c, expandValueSet({ id: c.req.param('id') }, clock())),
    )
    .get('/ValueSet/:operation{\\$validate-code}', (c) =>
      sendFhir(c, validateCode(codeParams(new URL(c.req.url).searchParams, undefined))),
    )
    .post('/ValueSet/:operation{\\$validate-code}', (c) =>
      sendFhir(c, validateCode(codeParams(new URL(c.req.url).searchParams, c.get('body')))),
    )
    .get('/ValueSet/:id', (c) => sendResource(c, readDefinition('ValueSet', c.req.param('id'))))
    .get('/CodeSystem/:id', (c) => sendResource(c, readDefinition('CodeSystem', c.req.param('id'))))
    .post('/:type/:operation{\\$validate}', (c) =>
      sendFhir(c, validateResource(c.req.param('type'), c.get('body'), c.req.query('profile'))),
    );
  return {
    routes,
    capabilities: [
      { type: 'StructureDefinition', interactions: ['read'] },
      { type: 'ValueSet', interactions: ['read'] },
      { type: 'CodeSystem', interactions: ['read'] },
      ...[...PROFILE_OF.entries()].map(([type, sd]) => ({
        type: type as never,
        interactions: [],
        profiles: [sd.url],
      })),
    ],
  };
}
