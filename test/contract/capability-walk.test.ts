import type { CapabilityStatement } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadExamples, toRequestInit } from '../../scripts/examples-lib.ts';
import { call } from '../support/app.ts';
import { seededApp } from '../support/referrals.ts';
import { AUDITOR, CLIENTS_JSON, SP, securedApp } from '../support/secured.ts';
import { probeSearchParams, type Send, walkStatement } from './walk.ts';
import { addFixtures, runJourney } from './walk-data.ts';

// A standard FHIR client trusts /metadata: everything it declares is requested here, on the data
// the example journey leaves, and nothing may answer 400, 404, 405 or 5xx. The one system
// interaction, transaction, is not walked again: the journey's first step is one.

const statementOf = async (response: Response) => (await response.json()) as CapabilityStatement;

describe('the CapabilityStatement, walked', () => {
  it('in the open local mode, everything it declares answers', async () => {
    const { app, store } = await seededApp();
    const values = await runJourney(loadExamples('journey'), async (request) =>
      app.request(`http://facade.test${request.path}`, toRequestInit(request)),
    );
    await addFixtures(store, values.get('patient') as string, []);
    const send: Send = (_type, path, init = {}) => call(app, path, init);
    const statement = await statementOf(await call(app, '/metadata'));
    const problems = await walkStatement(statement, send);
    expect(problems).toEqual([]);
    const probed = await probeSearchParams(statement, send);
    expect(probed.problems).toEqual([]);
    expect(probed.parameters).toBeGreaterThan(40);
  }, 120_000);

  it('in the secured mode, as a client with wide scopes (the audit client for AuditEvent)', async () => {
    // The service's registration widened to every scope a wildcard grants, and the directory's
    // types by name (a wildcard never grants directory writes).
    const registry = JSON.parse(CLIENTS_JSON) as { clients: { clientId: string; scopes: string[] }[] };
    const registered = new Map(registry.clients.map((c) => [c.clientId, c.scopes.join(' ')]));
    const wide = [
      'system/*.cruds',
      ...['Organization', 'HealthcareService', 'Location'].map((t) => `system/${t}.cruds`),
    ];
    for (const client of registry.clients) if (client.clientId === SP) client.scopes = wide;
    // The walk is a thousand requests from one client: more than a minute's allowance.
    const s = await securedApp({ RATE_LIMIT_PER_MINUTE: '100000' }, { clients: JSON.stringify(registry) });
    const tokens = new Map<string, string>();
    const tokenOf = async (client: string) => {
      const scope = client === SP ? wide.join(' ') : (registered.get(client) as string);
      if (!tokens.has(client)) tokens.set(client, await s.token(client, scope));
      return tokens.get(client) as string;
    };
    const values = await runJourney(loadExamples('journey'), async (request, client) =>
      s.app.request(`http://facade.test${request.path}`, toRequestInit(request, await tokenOf(client))),
    );
    await addFixtures(s.store, values.get('patient') as string, ['SPX01']);
    await s.audit.flush();
    const send: Send = async (type, path, init = {}) =>
      s.as(await tokenOf(type === 'AuditEvent' ? AUDITOR : SP), path, init);
    const statement = await statementOf(await call(s.app, '/metadata'));
    const problems = await walkStatement(statement, send);
    expect(problems).toEqual([]);
    const probed = await probeSearchParams(statement, send);
    expect(probed.problems).toEqual([]);
    expect(probed.parameters).toBeGreaterThan(40);
  }, 120_000);
});
