import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { getResponse } from 'msw';
import { defineConfig } from 'vitest/config';
import { generateSigningKeyJwk } from './src/auth/tokens.ts';
import { fakeMedplum, medplumHandlers } from './test/support/medplum-handlers.ts';

// The Workers are secured as in production: the test clients of examples/auth are registered, the
// facade signs tokens with a key made for this run, and issues them for the origin tests call.
const auth = {
  PUBLIC_BASE_URL: 'https://facade.test',
  AUTH_CLIENTS: readFileSync('examples/auth/clients.json', 'utf8'),
  AUTH_SIGNING_KEY: JSON.stringify(await generateSigningKeyJwk()),
};

// The embedded-Medplum Worker registers the same clients, with the community centre's connector
// (RCC01) also allowed to read and search: what keeps it from the GP's referrals there is
// tenancy, not a missing scope.
const registry = JSON.parse(auth.AUTH_CLIENTS) as { clients: { clientId: string; scopes: string[] }[] };
for (const client of registry.clients) {
  if (client.clientId === 'riverside-community-connector') client.scopes.push('system/*.rs');
}
const embeddedAuth = { ...auth, AUTH_CLIENTS: JSON.stringify(registry) };

// Inside workerd, outbound requests leave through this function (in Node), where the same msw
// handlers the Node tests use play Medplum. Anything they do not answer fails loudly.
const workerdMedplum = fakeMedplum('https://medplum.test/', [
  {
    resourceType: 'Patient',
    id: 'p1',
    meta: {
      versionId: '1',
      lastUpdated: '2026-11-01T10:00:00.000Z',
      security: [
        {
          system: 'https://fhir.social-prescribing.example.org/CodeSystem/organisation-access',
          code: 'B99901',
        },
      ],
    },
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009' }],
  },
]);
const workerdHandlers = medplumHandlers(workerdMedplum);

/** A host the embedded project's outbound requests fail at, as from a Medplum that is down. */
const MEDPLUM_DOWN_HOST = 'medplum-down.test';

// A second Worker project talks to a real embedded Medplum (FhirRouter + the embedded store, in
// Node), so referral intake runs end to end with the Worker's code in workerd. Each host named
// `diff-*` gets an embedded Medplum of its own, for tests that compare two stores; every other
// host reaches the one the workerd tests share.
const embedded = new Map<string, Promise<(request: Request) => Promise<Response>>>();
function embeddedMedplum(host: string): Promise<(request: Request) => Promise<Response>> {
  const name = host.startsWith('diff-') ? host : 'shared';
  let made = embedded.get(name);
  if (!made) {
    made = (async () => {
      const { indexDefinitions } = await import('./src/fhir/definitions.ts');
      const { createEmbeddedStore } = await import('./src/medplum/embedded/connect.ts');
      const { seedEmbeddedStore } = await import('./src/medplum/embedded/seed.ts');
      indexDefinitions();
      const { store, medplum } = createEmbeddedStore({ timeoutMs: 10_000 });
      await seedEmbeddedStore(store, pathToFileURL(join(process.cwd(), 'examples/seed/')));
      return medplum.fetch;
    })();
    embedded.set(name, made);
  }
  return made;
}

// Subscribers' endpoints for the Worker's notifications: any host under `hooks.test`, resolved (by
// DNS over HTTPS, as the Worker resolves them) to a public address, records what it is sent (with
// whether its X-Signature verifies with HOOK_SECRET, checked here with Node's own HMAC) and answers
// 200; `GET /__received` on it lists what it has had, for the workerd tests to read.
const HOOK_SECRET = 'workerd-receiver-secret-0123456789';
const hookRequests = new Map<string, { headers: Record<string, string>; body: string; signed: boolean }[]>();
async function hooks(request: Request): Promise<Response | undefined> {
  const url = new URL(request.url);
  if (url.hostname === 'cloudflare-dns.com' && url.searchParams.get('name')?.endsWith('.hooks.test')) {
    const type = url.searchParams.get('type') === 'AAAA' ? 28 : 1;
    const data = type === 1 ? '93.184.216.34' : '2606:2800:220:1:248:1893:25c8:1946';
    return Response.json({ Status: 0, Answer: [{ name: url.searchParams.get('name'), type, data }] });
  }
  if (!url.hostname.endsWith('.hooks.test')) return undefined;
  const key = url.hostname;
  if (request.method === 'GET' && url.pathname === '/__received')
    return Response.json(hookRequests.get(key) ?? []);
  const list = hookRequests.get(key) ?? [];
  const body = await request.text();
  const signed =
    createHmac('sha256', HOOK_SECRET).update(body).digest('hex') === request.headers.get('x-signature');
  list.push({ headers: Object.fromEntries(request.headers), body, signed });
  hookRequests.set(key, list);
  return new Response('ok');
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/workerd/**'],
          setupFiles: ['test/support/setup.ts'],
          testTimeout: 30_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              outboundService: async (request: Request) =>
                (await getResponse(workerdHandlers, request)) ??
                new Response(`Unexpected outbound request: ${request.method} ${request.url}`, {
                  status: 599,
                }),
              bindings: {
                MEDPLUM_BASE_URL: 'https://medplum.test/',
                MEDPLUM_CLIENT_ID: 'test-client',
                MEDPLUM_CLIENT_SECRET: 'test-secret',
                LOG_LEVEL: 'silent',
                ...auth,
              },
            },
          }),
        ],
        test: {
          name: 'workerd',
          include: ['test/workerd/**/*.test.ts'],
          exclude: ['test/workerd/**/*.embedded.test.ts'],
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              // Except at MEDPLUM_DOWN_HOST, a Medplum that is down (503), for bindings that name it.
              outboundService: async (request: Request) =>
                (await hooks(request)) ??
                (new URL(request.url).hostname === MEDPLUM_DOWN_HOST
                  ? new Response('Service Unavailable', { status: 503 })
                  : (await embeddedMedplum(new URL(request.url).hostname))(request)),
              bindings: {
                MEDPLUM_BASE_URL: 'https://embedded-medplum.test/',
                MEDPLUM_CLIENT_ID: 'workerd',
                MEDPLUM_CLIENT_SECRET: 'workerd',
                LOG_LEVEL: 'silent',
                ...embeddedAuth,
              },
            },
          }),
        ],
        test: {
          name: 'workerd-embedded',
          include: ['test/workerd/**/*.embedded.test.ts'],
        },
      },
    ],
  },
});
