import { getStatus, normalizeOperationOutcome, unauthorized } from '@medplum/core';
import { type FhirRepository, type FhirRequest, FhirRouter } from '@medplum/fhir-router';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { Hono } from 'hono';
import { EmbeddedRepository } from './repository.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export interface EmbeddedMedplum {
  /** Answers Medplum's HTTP surface in-process: give it to MedplumClient as `fetch`, or serve it. */
  fetch: (request: Request) => Promise<Response>;
  repo: FhirRepository;
}

/**
 * Medplum's own FhirRouter and repository behind the part of Medplum's HTTP surface the facade
 * uses (`/oauth2/token` client credentials, `/fhir/R4/...`), so the facade makes the same
 * MedplumClient calls against it as against a real server, including the token exchange.
 * The schema (search parameters) must be indexed before it serves searches.
 */
export function createEmbeddedMedplum(repo: FhirRepository = EmbeddedRepository.open()): EmbeddedMedplum {
  const router = new FhirRouter();
  const tokens = new Set<string>();
  const app = new Hono();

  app.post('/oauth2/token', async (c) => {
    const form = await c.req.parseBody();
    if (form.grant_type !== 'client_credentials' || !form.client_id || !form.client_secret) {
      return c.json({ error: 'invalid_request' }, 400);
    }
    const token = crypto.randomUUID();
    tokens.add(token);
    return c.json({ access_token: token, token_type: 'Bearer', expires_in: 3600 });
  });

  app.all('/fhir/R4/*', async (c) => {
    const token = c.req.header('authorization')?.replace(/^Bearer /, '');
    if (!token || !tokens.has(token)) return fhirJson(unauthorized, undefined, 401);

    const url = new URL(c.req.url);
    const body = ['POST', 'PUT', 'PATCH'].includes(c.req.method) ? await c.req.json() : undefined;
    const request: FhirRequest = {
      method: c.req.method as FhirRequest['method'],
      url: url.pathname.slice('/fhir/R4'.length) + url.search,
      pathname: '',
      params: {},
      query: {},
      body,
      headers: Object.fromEntries(c.req.raw.headers),
      // As a Medplum project with the transactions feature: a transaction Bundle is all or nothing.
      config: { transactions: true },
    };
    try {
      const [outcome, resource] = await router.handleRequest(request, repo);
      return fhirJson(outcome, resource);
    } catch (err) {
      return fhirJson(normalizeOperationOutcome(err));
    }
  });

  app.notFound(() => fhirJson(normalizeOperationOutcome(new Error('Not found')), undefined, 404));

  return { fetch: (request) => Promise.resolve(app.fetch(request)), repo };
}

function fhirJson(outcome: OperationOutcome, resource?: Resource, status = getStatus(outcome)): Response {
  const headers = new Headers({ 'content-type': FHIR_JSON });
  const versionId = resource?.meta?.versionId;
  if (versionId) headers.set('etag', `W/"${versionId}"`);
  if (status === 201 && resource?.id) headers.set('location', `${resource.resourceType}/${resource.id}`);
  return new Response(JSON.stringify(resource ?? outcome), { status, headers });
}
