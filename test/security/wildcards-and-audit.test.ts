import type { AuditEvent, Bundle, HealthcareService } from '@medplum/fhirtypes';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { clientAssertion, tokenForm } from '../../scripts/smart-client.ts';
import { TEST_NOW } from '../support/app.ts';
import { exampleBody } from '../support/referrals.ts';
import { AUDITOR, CLIENTS_JSON, GP, securedApp, TOKEN_URL } from '../support/secured.ts';

const DIRECTORY_ADMIN = 'riverside-directory-admin';

/** The registry of examples/auth plus clients of B99902 with the given scopes, and their keys. */
async function withClients(extra: { clientId: string; scopes: string[] }[]) {
  const registry = JSON.parse(CLIENTS_JSON);
  const keys = new Map<string, { clientId: string; jwk: Record<string, unknown> }>();
  for (const { clientId, scopes } of extra) {
    const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
    const kid = `${clientId}-1`;
    keys.set(clientId, { clientId, jwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES384' } });
    registry.clients.push({
      clientId,
      organization: 'B99902',
      scopes,
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384' }] },
    });
  }
  const s = await securedApp({}, { clients: JSON.stringify(registry) });
  const tokenOf = async (clientId: string, scope: string) => {
    const key = keys.get(clientId);
    if (!key) return s.token(clientId, scope);
    const response = await s.tokenResponse(
      tokenForm(await clientAssertion(key as never, TOKEN_URL, { now: TEST_NOW }), scope),
    );
    return ((await response.json()) as { access_token: string }).access_token;
  };
  return { s, tokenOf };
}

describe('wildcard scopes never reach the directory', () => {
  it.each(['system/*.cruds', 'system/*.write', 'system/*.*'])(
    'a practice registered with %s cannot withdraw, register or edit a service; the directory’s keepers can',
    async (wildcard) => {
      const { s, tokenOf } = await withClients([{ clientId: 'hillside-wide', scopes: [wildcard] }]);
      const wide = await tokenOf('hillside-wide', wildcard);
      const keeper = await s.token(DIRECTORY_ADMIN, 'system/HealthcareService.crus');
      const services = (await (await s.as(keeper, '/fhir/HealthcareService')).json()) as Bundle;
      const service = services.entry?.[0]?.resource as HealthcareService;
      const withdrawn = { ...service, active: false };
      const put = {
        method: 'PUT',
        body: withdrawn,
        headers: { 'if-match': `W/"${service.meta?.versionId}"` },
      };
      const post = {
        body: {
          resourceType: 'HealthcareService',
          active: true,
          name: 'Mine',
          providedBy: service.providedBy,
        },
      };
      const patch = {
        method: 'PATCH',
        body: JSON.stringify([{ op: 'replace', path: '/active', value: false }]),
        headers: {
          'content-type': 'application/json-patch+json',
          'if-match': `W/"${service.meta?.versionId}"`,
        },
      };
      for (const [path, init] of [
        [`/fhir/HealthcareService/${service.id}`, put],
        ['/fhir/HealthcareService', post],
        [`/fhir/HealthcareService/${service.id}`, patch],
        ['/fhir/Organization', { body: { resourceType: 'Organization', name: 'Mine' } }],
      ] as const) {
        expect((await s.as(wide, path, init)).status, `${wildcard} ${path}`).toBe(403);
      }
      const still = (await s.store.read('HealthcareService', service.id as string)) as HealthcareService;
      expect(still.active).not.toBe(false);
      // The same write by a scope naming the type is taken.
      expect((await s.as(keeper, `/fhir/HealthcareService/${service.id}`, put)).status).toBe(200);
      // And reading the directory still works through the wildcard, where it grants reads.
      if (wildcard !== 'system/*.write')
        expect((await s.as(wide, '/fhir/HealthcareService')).status).toBe(200);
    },
  );
});

describe('the audit trail by organisation', () => {
  it('an organisation reads its own clients’ events only; the operator reads them all', async () => {
    const { s, tokenOf } = await withClients([
      { clientId: 'hillside-gp', scopes: ['system/ServiceRequest.crs', 'system/*.rs'] },
      { clientId: 'hillside-audit', scopes: ['system/AuditEvent.rs'] },
    ]);
    const gp = await s.token(GP, 'system/ServiceRequest.crs system/*.rs');
    const hillside = await tokenOf('hillside-gp', 'system/ServiceRequest.crs system/*.rs');
    expect((await s.as(gp, '/fhir', { body: exampleBody('01-gp-transaction-bundle.200') })).status).toBe(200);
    const theirs = JSON.stringify(exampleBody('01-gp-transaction-bundle.200'))
      .replaceAll('B99901', 'B99902')
      .replaceAll('RMP-2026-000101', 'HILL-1');
    expect((await s.as(hillside, '/fhir', { body: theirs })).status).toBe(200);
    await s.audit.flush();

    const organisationsOf = async (token: string) => {
      const bundle = (await (await s.as(token, '/fhir/AuditEvent?_count=100')).json()) as Bundle;
      const events = (bundle.entry ?? []).map((e) => e.resource as AuditEvent);
      return new Set(events.map((e) => e.agent?.[1]?.who?.identifier?.value));
    };
    const auditor = await tokenOf('hillside-audit', 'system/AuditEvent.rs');
    expect(await organisationsOf(auditor)).toEqual(new Set(['B99902']));
    const operator = await s.token(AUDITOR, 'system/AuditEvent.rs');
    expect(await organisationsOf(operator)).toEqual(new Set(['B99901', 'B99902']));
    // Reading another organisation's event by id is as reading a missing one.
    const all = (await (await s.as(operator, '/fhir/AuditEvent?_count=100')).json()) as Bundle;
    const gpEvent = all.entry?.find(
      (e) => (e.resource as AuditEvent).agent?.[1]?.who?.identifier?.value === 'B99901',
    )?.resource?.id;
    expect((await s.as(auditor, `/fhir/AuditEvent/${gpEvent}`)).status).toBe(404);
    expect((await s.as(operator, `/fhir/AuditEvent/${gpEvent}`)).status).toBe(200);
  });
});
