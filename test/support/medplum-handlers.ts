import type { Bundle, Resource } from '@medplum/fhirtypes';
import { HttpResponse, http } from 'msw';

/**
 * A stand-in for a remote Medplum server: client-credentials token endpoint and a FHIR base that
 * answers 401 without the issued token, as Medplum does, serves the given resources and stores
 * the ones created (POST of a resource) beside them.
 */
export interface FakeMedplum {
  baseUrl: string;
  resources: Resource[];
  tokenRequests: number;
  /** Request seen by the FHIR base, for assertions on what the client sent. */
  seen: Request[];
}

export function fakeMedplum(baseUrl = 'https://medplum.test/', resources: Resource[] = []): FakeMedplum {
  return { baseUrl, resources, tokenRequests: 0, seen: [] };
}

const TOKEN = 'token-for-tests';

const outcome = (status: number, id: string, code: string, diagnostics?: string) =>
  HttpResponse.json(
    {
      resourceType: 'OperationOutcome',
      id,
      issue: [{ severity: 'error', code, ...(diagnostics ? { details: { text: diagnostics } } : {}) }],
    },
    { status },
  );

export function medplumHandlers(fake: FakeMedplum) {
  const fhir = `${fake.baseUrl}fhir/R4`;
  const authorised = (request: Request) => request.headers.get('authorization') === `Bearer ${TOKEN}`;
  const unauthorised = () => outcome(401, 'unauthorized', 'login');
  return [
    http.post(`${fake.baseUrl}oauth2/token`, async ({ request }) => {
      fake.tokenRequests++;
      const form = new URLSearchParams(await request.text());
      if (form.get('grant_type') !== 'client_credentials' || form.get('client_secret') !== 'test-secret') {
        return HttpResponse.json({ error: 'invalid_client' }, { status: 401 });
      }
      return HttpResponse.json({ access_token: TOKEN, token_type: 'Bearer', expires_in: 3600 });
    }),
    http.get(`${fhir}/:type/:id`, ({ request, params }) => {
      fake.seen.push(request);
      if (!authorised(request)) return unauthorised();
      const found = fake.resources.find((r) => r.resourceType === params.type && r.id === params.id);
      if (!found) return outcome(404, 'not-found', 'not-found');
      return HttpResponse.json(found);
    }),
    // Create, as Medplum answers it: the server assigns the id, version 1 and lastUpdated (any
    // sent are replaced), and answers 201 with the stored resource, its Location and ETag.
    http.post(`${fhir}/:type`, async ({ request, params }) => {
      fake.seen.push(request.clone());
      if (!authorised(request)) return unauthorised();
      let body: Resource;
      try {
        body = (await request.json()) as Resource;
      } catch {
        return outcome(400, 'bad-request', 'invalid', 'Invalid JSON');
      }
      if (body?.resourceType !== params.type) {
        return outcome(
          400,
          'bad-request',
          'invalid',
          `Incorrect resource type: expected ${params.type}, but found ${body?.resourceType || '<EMPTY>'}`,
        );
      }
      const stored = {
        ...body,
        id: crypto.randomUUID(),
        meta: { ...body.meta, versionId: '1', lastUpdated: new Date().toISOString() },
      } as Resource;
      fake.resources.push(stored);
      return HttpResponse.json(stored, {
        status: 201,
        headers: {
          location: `${fhir}/${stored.resourceType}/${stored.id}`,
          'content-type': 'application/fhir+json; charset=utf-8',
          etag: 'W/"1"',
          'last-modified': new Date(stored.meta?.lastUpdated as string).toUTCString(),
        },
      });
    }),
    http.get(`${fhir}/:type`, ({ request, params }) => {
      fake.seen.push(request);
      if (!authorised(request)) return unauthorised();
      const matches = fake.resources.filter((r) => r.resourceType === params.type);
      const url = new URL(request.url);
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'searchset',
        link: [
          { relation: 'self', url: url.href },
          { relation: 'next', url: `${fhir}/${params.type}?_count=1&_offset=1` },
        ],
        entry: matches.map((resource) => ({
          fullUrl: `${fhir}/${resource.resourceType}/${resource.id}`,
          resource,
        })),
      };
      return HttpResponse.json(bundle);
    }),
  ];
}
