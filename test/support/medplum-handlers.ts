import type { Bundle, Resource } from '@medplum/fhirtypes';
import { HttpResponse, http } from 'msw';

/**
 * A stand-in for a remote Medplum server: client-credentials token endpoint and a FHIR base that
 * answers 401 without the issued token, as Medplum does, and serves the given resources.
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

export function medplumHandlers(fake: FakeMedplum) {
  const fhir = `${fake.baseUrl}fhir/R4`;
  const authorised = (request: Request) => request.headers.get('authorization') === `Bearer ${TOKEN}`;
  const unauthorised = () =>
    HttpResponse.json(
      { resourceType: 'OperationOutcome', id: 'unauthorized', issue: [{ severity: 'error', code: 'login' }] },
      { status: 401 },
    );
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
      if (!found) {
        return HttpResponse.json(
          {
            resourceType: 'OperationOutcome',
            id: 'not-found',
            issue: [{ severity: 'error', code: 'not-found' }],
          },
          { status: 404 },
        );
      }
      return HttpResponse.json(found);
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
