import { badRequest, getStatus, isCreated, isOk, unauthorized } from '@medplum/core';
import { type FhirRequest, FhirRouter } from '@medplum/fhir-router';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { HttpResponse, http } from 'msw';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { FakeMedplumRepository } from './medplum-repository.ts';

/**
 * A stand-in for a remote Medplum 5.x server, answering what the facade asks of one as Medplum
 * does: the client-credentials token endpoint and `auth/me`, and a FHIR base that answers 401
 * without an issued token and otherwise routes the request through Medplum's own FhirRouter (the
 * router Medplum's server runs, packages/server/src/fhir/routes.ts) over an in-memory repository
 * that behaves as Medplum's Postgres one does (./medplum-repository.ts, ./medplum-search.ts).
 */
export interface FakeMedplum {
  baseUrl: string;
  /** Every current resource, in the order first stored. */
  readonly resources: Resource[];
  tokenRequests: number;
  /** Requests seen by the FHIR base, for assertions on what the client sent. */
  seen: Request[];
  /**
   * The Project's features. With `transaction-bundles` a transaction Bundle is all or nothing;
   * without it Medplum runs its entries one by one, as a batch.
   */
  features: string[];
  repo: FakeMedplumRepository;
}

/** The client credentials the fake accepts. */
export const FAKE_MEDPLUM_CLIENT = { clientId: 'test-client', clientSecret: 'test-secret' } as const;

/**
 * A fake Medplum holding `resources` (kept with their ids and meta, as a project's existing data),
 * its project set up as the README says: with the `transaction-bundles` feature.
 */
export function fakeMedplum(
  baseUrl = 'https://medplum.test/',
  resources: Resource[] = [],
  options: { features?: string[] } = {},
): FakeMedplum {
  indexDefinitions();
  const repo = new FakeMedplumRepository(baseUrl);
  for (const resource of resources) repo.seed(resource);
  return {
    baseUrl,
    get resources() {
      return repo.all();
    },
    tokenRequests: 0,
    seen: [],
    features: options.features ?? ['transaction-bundles'],
    repo,
  };
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/**
 * Tokens issued per base URL, for the process: Medplum checks a token's signature, not which
 * process issued it, so a client of an earlier test's fake (an audit write still queued) is
 * answered as by the same server rather than refused in the middle of its login.
 */
const ISSUED = new Map<string, Set<string>>();
const issuedTokens = (baseUrl: string): Set<string> => {
  const tokens = ISSUED.get(baseUrl) ?? new Set<string>();
  ISSUED.set(baseUrl, tokens);
  return tokens;
};

const PROJECT_ID = '6f1c0de4-0000-4000-8000-00000000c0de';
const CLIENT_APPLICATION_ID = '6f1c0de4-0000-4000-8000-0000000c11e7';

/**
 * The msw handlers that play `fake` at its base URL: `oauth2/token` (client credentials, a
 * Medplum-shaped token), `auth/me`, and everything under `fhir/R4`.
 */
export function medplumHandlers(fake: FakeMedplum) {
  const fhir = `${fake.baseUrl}fhir/R4`;
  const router = new FhirRouter();
  const tokens = issuedTokens(fake.baseUrl);
  const authorised = (request: Request) => tokens.has(request.headers.get('authorization')?.slice(7) ?? '');
  const answerFhir = async ({ request }: { request: Request }) => {
    fake.seen.push(request.clone());
    if (!authorised(request)) return outcomeResponse(unauthorized);
    return fhirAnswer(router, fake, request);
  };
  return [
    http.post(`${fake.baseUrl}oauth2/token`, async ({ request }) => {
      fake.tokenRequests++;
      const form = new URLSearchParams(await request.text());
      if (
        form.get('grant_type') !== 'client_credentials' ||
        form.get('client_id') !== FAKE_MEDPLUM_CLIENT.clientId ||
        form.get('client_secret') !== FAKE_MEDPLUM_CLIENT.clientSecret
      ) {
        return HttpResponse.json(
          { error: 'invalid_request', error_description: 'Invalid secret' },
          { status: 400 },
        );
      }
      const token = accessToken(form.get('client_id') as string);
      tokens.add(token);
      return HttpResponse.json({
        token_type: 'Bearer',
        access_token: token,
        expires_in: 3600,
        scope: 'openid',
        project: { reference: `Project/${PROJECT_ID}` },
        profile: { reference: `ClientApplication/${CLIENT_APPLICATION_ID}` },
      });
    }),
    // MedplumClient reads its session after each login, as it does from a real Medplum
    // (packages/server/src/auth/me.ts: the Project with its features, the membership, the profile).
    http.get(`${fake.baseUrl}auth/me`, ({ request }) => {
      if (!authorised(request)) return outcomeResponse(unauthorized);
      return HttpResponse.json({
        project: {
          resourceType: 'Project',
          id: PROJECT_ID,
          name: 'Social prescribing',
          features: fake.features,
        },
        membership: {
          resourceType: 'ProjectMembership',
          id: '6f1c0de4-0000-4000-8000-00000000e3b5',
          user: { reference: `ClientApplication/${CLIENT_APPLICATION_ID}` },
          profile: { reference: `ClientApplication/${CLIENT_APPLICATION_ID}` },
        },
        profile: { resourceType: 'ClientApplication', id: CLIENT_APPLICATION_ID, name: 'Facade' },
        config: { resourceType: 'UserConfiguration' },
      });
    }),
    http.all(fhir, answerFhir),
    http.all(`${fhir}/*`, answerFhir),
  ];
}

/**
 * One FHIR request answered as Medplum's server frames a FhirRouter result (routes.ts and
 * response.ts): the outcome's status, the resource with `ETag` and `Last-Modified`, and
 * `Location` (the full URL, no version) on a create; an outcome alone as the body otherwise.
 */
async function fhirAnswer(router: FhirRouter, fake: FakeMedplum, request: Request): Promise<Response> {
  const url = new URL(request.url);
  let body: unknown = {};
  if (['POST', 'PUT', 'PATCH'].includes(request.method)) {
    const text = await request.text();
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      return outcomeResponse(badRequest('Invalid JSON'));
    }
  }
  const fhirRequest: FhirRequest = {
    method: request.method as FhirRequest['method'],
    url: url.pathname.slice('/fhir/R4'.length) + url.search,
    pathname: '',
    params: {},
    query: {},
    body,
    headers: Object.fromEntries(request.headers),
    config: { transactions: fake.features.includes('transaction-bundles') },
  };
  const [outcome, resource] = await router.handleRequest(fhirRequest, fake.repo);
  if (!resource || !isOk(outcome)) return outcomeResponse(outcome);
  const headers = new Headers({ 'content-type': FHIR_JSON });
  if (resource.meta?.versionId) headers.set('etag', `W/"${resource.meta.versionId}"`);
  if (resource.meta?.lastUpdated)
    headers.set('last-modified', new Date(resource.meta.lastUpdated).toUTCString());
  if (isCreated(outcome) && resource.id)
    headers.set('location', fake.repo.fullUrl(resource.resourceType, resource.id));
  return new HttpResponse(JSON.stringify(resource), { status: getStatus(outcome), headers });
}

function outcomeResponse(outcome: OperationOutcome): Response {
  return new HttpResponse(JSON.stringify(outcome), {
    status: getStatus(outcome),
    headers: { 'content-type': FHIR_JSON },
  });
}

/**
 * An access token shaped as Medplum's (a JWT with `login_id` and `client_id`), so MedplumClient
 * treats the fake as a Medplum server; the signature is never checked by the client.
 */
function accessToken(clientId: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { login_id: crypto.randomUUID(), client_id: clientId, iat: now, exp: now + 3600 };
  return `${part({ alg: 'ES256', typ: 'JWT' })}.${part(claims)}.${part({ fake: crypto.randomUUID() })}`;
}
