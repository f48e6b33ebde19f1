import type { Parameters } from '@medplum/fhirtypes';
import { type Context, Hono } from 'hono';
import type { ResourceCapability, SearchParamCapability } from '../fhir/capability-statement.ts';
import { Failures } from '../fhir/outcomes.ts';
import { PROFILE_OF } from '../fhir/profiles.ts';
import type { PublishedProfileSource } from '../fhir/published-profiles.ts';
import { READABLE_RESOURCE_TYPES } from '../fhir/resource-types.ts';
import { assertOnlyParams, RESPONSE_PARAMS } from '../fhir/search-values.ts';
import { applySubset, asRead, readSubset } from '../fhir/subset.ts';
import type { AppEnv } from '../http/env.ts';
import { searchHandling } from '../http/prefer.ts';
import { queryOf } from '../http/query.ts';
import { sendFhir, sendResource } from '../http/respond.ts';
import { searchFormParams } from '../http/search-form.ts';
import {
  CONTRACT_OPERATIONS,
  type ContractSearchType,
  expandValueSet,
  operationInputs,
  readDefinition,
  readProfile,
  searchContract,
  validateCode,
  validateResource,
} from '../resources/contract.ts';
import type { FhirFeature } from './feature.ts';

/** The canonical-URL search every conformance type here answers. */
const BY_URL: readonly SearchParamCapability[] = [
  { name: 'url', type: 'uri', definition: 'http://hl7.org/fhir/SearchParameter/conformance-url' },
];

const SEARCHED: readonly ContractSearchType[] = ['StructureDefinition', 'ValueSet', 'CodeSystem'];

/** The canonical URL under which an operation of the contract is served. */
const definitionOf = (id: string) => CONTRACT_OPERATIONS.find((od) => od.id === id)?.url as string;

/** The search's parameters: the URL's, and for a search by POST the form's too. */
async function searchParams(c: Context<AppEnv>): Promise<URLSearchParams> {
  if (c.req.method !== 'POST') return new URL(c.req.url).searchParams;
  return searchFormParams(c);
}

/** An operation's POSTed body: none, or Parameters. */
function parametersBody(body: unknown): Parameters | undefined {
  if (body === undefined) return undefined;
  if ((body as Parameters | null)?.resourceType !== 'Parameters') {
    throw Failures.badRequest('The body of an operation is a Parameters resource', ['resourceType']);
  }
  return body as Parameters;
}

/** The inputs `$validate-code` takes, besides those that shape the answer. */
const VALIDATE_CODE_INPUTS = ['url', 'code', 'system', 'display', 'coding'];

/** Reads the inputs of `$validate-code` from the query, or from a Parameters body. */
function codeParams(query: URLSearchParams, body: unknown) {
  assertOnlyParams(
    operationInputs(query, parametersBody(body)),
    [...VALIDATE_CODE_INPUTS, ...RESPONSE_PARAMS],
    '$validate-code',
  );
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
export function contractRoutes(
  clock: () => Date,
  published: PublishedProfileSource,
  /** Whether the service takes a create or an update of a type, for `$validate`'s modes. */
  writes: (type: string) => { create: boolean; update: boolean },
): FhirFeature {
  const search = async (c: Context<AppEnv>, type: ContractSearchType) =>
    sendFhir(
      c,
      await searchContract(type, await searchParams(c), c.get('baseUrl'), published, searchHandling(c)),
    );
  const expand = (c: Context<AppEnv>, id?: string) =>
    sendFhir(
      c,
      expandValueSet(
        id ? { id } : {},
        operationInputs(
          queryOf(c.req.url),
          c.req.method === 'POST' ? parametersBody(c.get('body')) : undefined,
        ),
        clock(),
      ),
    );
  const routes = new Hono<AppEnv>();
  // One route per path rather than a regex alternation, which Hono does not anchor.
  for (const type of SEARCHED) {
    routes.get(`/${type}`, (c) => search(c, type)).post(`/${type}/_search`, (c) => search(c, type));
  }
  for (const od of CONTRACT_OPERATIONS) {
    routes.get(`/OperationDefinition/${od.id}`, (c) => sendResource(c, asRead(od, queryOf(c.req.url))));
  }
  routes
    .get('/StructureDefinition/:id', async (c) => {
      const subset = readSubset('StructureDefinition', queryOf(c.req.url));
      return sendResource(c, applySubset(await readProfile(c.req.param('id'), published), subset));
    })
    .get('/ValueSet/:operation{\\$expand}', (c) => expand(c))
    .get('/ValueSet/:id/:operation{\\$expand}', (c) => expand(c, c.req.param('id')))
    // $expand is defined for POST too, with its parameters in a Parameters body.
    .post('/ValueSet/:operation{\\$expand}', (c) => expand(c))
    .post('/ValueSet/:id/:operation{\\$expand}', (c) => expand(c, c.req.param('id')))
    .get('/ValueSet/:operation{\\$validate-code}', (c) =>
      sendFhir(c, validateCode(codeParams(queryOf(c.req.url), undefined))),
    )
    .post('/ValueSet/:operation{\\$validate-code}', (c) =>
      sendFhir(c, validateCode(codeParams(queryOf(c.req.url), c.get('body')))),
    )
    .get('/ValueSet/:id', (c) =>
      sendResource(c, asRead(readDefinition('ValueSet', c.req.param('id')), queryOf(c.req.url))),
    )
    .get('/CodeSystem/:id', (c) =>
      sendResource(c, asRead(readDefinition('CodeSystem', c.req.param('id')), queryOf(c.req.url))),
    )
    .post('/:type/:operation{\\$validate}', (c) => {
      const body = c.get('body');
      const parameters =
        (body as Parameters | undefined)?.resourceType === 'Parameters' ? (body as Parameters) : undefined;
      return sendFhir(
        c,
        validateResource(c.req.param('type'), body, operationInputs(queryOf(c.req.url), parameters), writes),
      );
    });
  const validate = { name: 'validate', definition: definitionOf('Resource-validate') };
  const capabilities: ResourceCapability[] = [
    { type: 'StructureDefinition', interactions: ['read', 'search-type'], searchParams: BY_URL },
    {
      type: 'ValueSet',
      interactions: ['read', 'search-type'],
      searchParams: BY_URL,
      operations: [
        { name: 'expand', definition: definitionOf('ValueSet-expand') },
        { name: 'validate-code', definition: definitionOf('ValueSet-validate-code') },
      ],
    },
    { type: 'CodeSystem', interactions: ['read', 'search-type'], searchParams: BY_URL },
    { type: 'OperationDefinition', interactions: ['read'] },
    ...READABLE_RESOURCE_TYPES.map((type) => ({ type, interactions: [], operations: [validate] })),
    ...[...PROFILE_OF.entries()].map(([type, sd]) => ({
      type: type as never,
      interactions: [],
      profiles: [sd.url],
    })),
  ];
  return { routes, capabilities };
}
