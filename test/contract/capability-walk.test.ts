import type { CapabilityStatement, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import {
  captureValues,
  DEFAULT_EXAMPLE_CLIENT,
  type ExampleRequest,
  loadExamples,
  substitute,
  toRequestInit,
} from '../../scripts/examples-lib.ts';
import { withAccess } from '../../src/auth/tenancy.ts';
import { SERVED_RESOURCE_TYPES } from '../../src/fhir/resource-types.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { call } from '../support/app.ts';
import { seededApp } from '../support/referrals.ts';
import { AUDITOR, CLIENTS_JSON, SP, securedApp } from '../support/secured.ts';
import { probeSearchParams, type Send, walkStatement } from './walk.ts';

// A standard FHIR client trusts /metadata: everything it declares is requested here, on the data
// the example journey leaves, and nothing may answer 400, 404, 405 or 5xx. The one system
// interaction, transaction, is not walked again: the journey's first step is one.

/** Sends one example request, as the example's client where clients are registered. */
type Fetch = (request: ExampleRequest, client: string) => Promise<Response>;

/** Runs examples/journey/ in order; each step must answer with its example's status. */
async function runJourney(fetchAs: Fetch): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for (const example of loadExamples('journey')) {
    const request = substitute(example.request, values);
    const expected = substitute(example.response, values);
    const response = await fetchAs(request, request.client ?? DEFAULT_EXAMPLE_CLIENT);
    // What each step stores is what the walk reads; the examples test checks the answers whole.
    expect(response.status, example.name).toBe(expected.status);
    expect(await captureValues(expected, response, values), example.name).toEqual([]);
  }
  return values;
}

/** One resource of each served type the journey does not write, so every type has one to read. */
function fixture(type: string, patient: string): Resource | undefined {
  const subject = { reference: `Patient/${patient}` };
  const fixtures: Record<string, Resource> = {
    Location: { resourceType: 'Location', status: 'active', name: 'Riverside Community Centre' },
    Observation: {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '72166-2', display: 'Tobacco smoking status' }] },
      subject,
      effectiveDateTime: '2026-11-19T10:00:00Z',
      valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '266919005' }] },
    },
    RelatedPerson: {
      resourceType: 'RelatedPerson',
      patient: subject,
      name: [{ family: 'Okafor', given: ['Ada'] }],
    },
    Condition: {
      resourceType: 'Condition',
      subject,
      code: {
        coding: [{ system: 'http://snomed.info/sct', code: '422650009', display: 'Social isolation' }],
      },
      recordedDate: '2026-11-19',
    },
  };
  return fixtures[type];
}

async function addFixtures(store: FhirStore, patient: string, organizations: string[]): Promise<void> {
  for (const type of SERVED_RESOURCE_TYPES) {
    const resource = fixture(type, patient);
    if (!resource || (await store.search(type, { _count: '1' })).entry?.length) continue;
    await store.create(withAccess(resource, organizations) as never);
  }
}

const statementOf = async (response: Response) => (await response.json()) as CapabilityStatement;

describe('the CapabilityStatement, walked', () => {
  it('in the open local mode, everything it declares answers', async () => {
    const { app, store } = await seededApp();
    const values = await runJourney(async (request) =>
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
    const values = await runJourney(async (request, client) =>
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
