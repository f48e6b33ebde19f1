/// <reference types="vite/client" />
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { type Example, toRequestInit } from '../../scripts/example-pairs.ts';
import { buildWorkerApp, type WorkerEnv } from '../../src/edge/worker-app.ts';
import { createMedplumClient, createMedplumStore } from '../../src/medplum/store.ts';
import { probeSearchParams, type Send, walkStatement } from '../contract/walk.ts';
import { addFixtures, runJourney } from '../contract/walk-data.ts';
import { tokenFrom } from './isolates.ts';

// The capability walk and the generated search probe (test/contract/walk.ts) against the Worker's
// code in workerd, on an embedded Medplum of its own: everything /metadata declares answers, and
// every declared search parameter with a stored value is tried with that value, a value nothing
// holds, a malformed value and each honoured modifier.

const FACADE = 'https://facade.test';
const MEDPLUM = 'https://diff-capability-walk.test/';
const SP = 'riverside-social-prescribing';
const AUDITOR = 'information-governance-audit';

/** examples/journey, as loadExamples reads it from disk in Node: request and answer pairs, in order. */
function journeyExamples(): Example[] {
  const files = import.meta.glob<{ default: unknown }>('../../examples/journey/*.json', { eager: true });
  return Object.keys(files)
    .filter((path) => path.endsWith('.request.json'))
    .sort()
    .map((path) => ({
      name: (path.split('/').pop() as string).replace(/\.request\.json$/, ''),
      request: files[path]?.default as Example['request'],
      response: files[path.replace(/\.request\.json$/, '.response.json')]?.default as Example['response'],
    }));
}

describe('the CapabilityStatement, walked in workerd', () => {
  it('answers everything it declares, and every declared search parameter as it must', async () => {
    // The service's registration widened to every scope a wildcard grants, and the directory's
    // types by name; one client's thousand requests within its allowance.
    const bindings = env as WorkerEnv;
    const registry = JSON.parse(bindings.AUTH_CLIENTS as string) as {
      clients: { clientId: string; scopes: string[] }[];
    };
    const wide = [
      'system/*.cruds',
      ...['Organization', 'HealthcareService', 'Location'].map((t) => `system/${t}.cruds`),
    ];
    for (const client of registry.clients) if (client.clientId === SP) client.scopes = wide;
    // Without the outbox Queue, audit records are written to this walk's own Medplum as requests end.
    const { OUTBOX: _queue, ...unqueued } = bindings as Record<string, unknown>;
    const walkEnv = {
      ...unqueued,
      MEDPLUM_BASE_URL: MEDPLUM,
      AUTH_CLIENTS: JSON.stringify(registry),
      RATE_LIMIT_PER_MINUTE: '100000',
    };
    const app = await buildWorkerApp(walkEnv);
    const tokens = new Map<string, string>();
    const tokenOf = async (client: string) => {
      const scope =
        client === SP
          ? wide.join(' ')
          : (registry.clients.find((c) => c.clientId === client)?.scopes.join(' ') ?? '');
      if (!tokens.has(client)) tokens.set(client, await tokenFrom(app, client, scope));
      return tokens.get(client) as string;
    };
    const fetchApp = async (path: string, init: RequestInit) => {
      const ctx = createExecutionContext();
      const response = await app.fetch(new Request(`${FACADE}${path}`, init), walkEnv, ctx);
      const body = await response.arrayBuffer();
      await waitOnExecutionContext(ctx);
      return new Response(body, { status: response.status, headers: response.headers });
    };

    const values = await runJourney(journeyExamples(), async (request, client) =>
      fetchApp(request.path, toRequestInit(request, await tokenOf(client))),
    );
    const store = createMedplumStore(
      createMedplumClient({
        baseUrl: MEDPLUM,
        clientId: bindings.MEDPLUM_CLIENT_ID as string,
        clientSecret: bindings.MEDPLUM_CLIENT_SECRET as string,
        timeoutMs: 10_000,
      }),
    );
    await addFixtures(store, values.get('patient') as string, ['SPX01']);

    const send: Send = async (type, path, init = {}) => {
      const token = await tokenOf(type === 'AuditEvent' ? AUDITOR : SP);
      const body =
        init.body === undefined || typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      return fetchApp(path, {
        method: init.method ?? (body === undefined ? 'GET' : 'POST'),
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
          ...init.headers,
        },
        ...(body === undefined ? {} : { body }),
      });
    };
    const statement = (await (await fetchApp('/metadata', {})).json()) as CapabilityStatement;
    expect(await walkStatement(statement, send)).toEqual([]);
    const probed = await probeSearchParams(statement, send);
    expect(probed.problems).toEqual([]);
    expect(probed.parameters).toBeGreaterThan(40);
  }, 120_000);
});
