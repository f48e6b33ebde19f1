import type {
  Bundle,
  CapabilityStatement,
  CapabilityStatementRestResource,
  OperationOutcome,
} from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { tokenForm } from '../../scripts/smart-client.ts';
import { parseScope } from '../../src/auth/scopes.ts';
import { call, createTestApp, expectOutcome } from '../support/app.ts';
import { postJson, referred } from '../support/journey.ts';
import { seededApp } from '../support/referrals.ts';
import { assertionFor, SP, securedApp } from '../support/secured.ts';

// What the CapabilityStatement and the SMART configuration declare is exactly what is served:
// every declaration here is checked against an answer.

const statementOf = async (app: ReturnType<typeof createTestApp>['app']) =>
  (await (await call(app, '/metadata')).json()) as CapabilityStatement;
const entryOf = (statement: CapabilityStatement, type: string) =>
  statement.rest?.[0]?.resource?.find((r) => r.type === type) as CapabilityStatementRestResource;

/** The SMART v2 letter each interaction needs (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html). */
const LETTER: Record<string, string> = {
  create: 'c',
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  'history-type': 'r',
  update: 'u',
  patch: 'u',
  delete: 'd',
  'search-type': 's',
};

/** Where an empty array sits in a JSON value, which FHIR JSON forbids (https://hl7.org/fhir/R4/json.html). */
function emptyArrays(value: unknown, at = '$'): string[] {
  if (Array.isArray(value)) {
    return value.length ? value.flatMap((v, i) => emptyArrays(v, `${at}[${i}]`)) : [at];
  }
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => emptyArrays(v, `${at}.${k}`));
  }
  return [];
}

describe('the CapabilityStatement', () => {
  it('declares JSON Patch, conditional reads and versioned updates where they are served', async () => {
    const { app } = await seededApp();
    const statement = await statementOf(app);
    expect(statement.patchFormat).toEqual(['application/json-patch+json']);
    for (const type of ['Organization', 'Task', 'CarePlan']) {
      const r = entryOf(statement, type);
      expect(r.versioning, type).toBe('versioned-update');
      expect(r.documentation, type).toMatch(/If-Match/);
    }
    expect(entryOf(statement, 'Patient').versioning).toBe('versioned');
    // And it is so: an update without If-Match is refused, a read with one answers 304.
    const found = (await (await call(app, '/fhir/Organization?_count=1')).json()) as Bundle;
    const org = found.entry?.[0]?.resource as { id: string };
    const read = await call(app, `/fhir/Organization/${org.id}`);
    await expectOutcome(
      await call(app, `/fhir/Organization/${org.id}`, { method: 'PUT', body: await read.json() }),
      428,
    );
    expect(entryOf(statement, 'Organization').conditionalRead).toBe('full-support');
    const etag = read.headers.get('etag') as string;
    expect(
      (await call(app, `/fhir/Organization/${org.id}`, { headers: { 'if-none-match': etag } })).status,
    ).toBe(304);
    // The published definitions carry no version to match, so none is declared for them.
    expect(entryOf(statement, 'ValueSet').conditionalRead).toBeUndefined();
  });

  it('holds no empty array, in the open mode (AuditEvent with operations only), secured, or with CORS', async () => {
    const open = createTestApp();
    const withCors = createTestApp({ CORS_ORIGINS: 'https://app.example.org' });
    const secured = await securedApp();
    for (const app of [open.app, withCors.app, secured.app]) {
      expect(emptyArrays(await statementOf(app))).toEqual([]);
    }
  });

  it('says browsers at other origins are let in when CORS origins are configured, and not otherwise', async () => {
    const withCors = await statementOf(createTestApp({ CORS_ORIGINS: 'https://app.example.org' }).app);
    expect(withCors.rest?.[0]?.security?.cors).toBe(true);
    expect((await statementOf(createTestApp().app)).rest?.[0]?.security).toBeUndefined();
    const secured = await securedApp({ CORS_ORIGINS: 'https://app.example.org' });
    const security = (await statementOf(secured.app)).rest?.[0]?.security;
    expect(security?.cors).toBe(true);
    expect(security?.service?.[0]?.coding?.[0]?.code).toBe('SMART-on-FHIR');
  });
});

describe('FHIR JSON in answers', () => {
  it('every entry of the summary’s collection Bundle has a fullUrl; no empty array in it or in $outcomes', async () => {
    const r = await referred();
    await postJson(r, r.sp, `/referrals/${r.srId}/$accept`);
    const plan = await postJson(r, r.sp, `/referrals/${r.srId}/care-plan`, {
      whatMattersToMe: 'Company',
      author: { name: 'Sam' },
      activities: [{ category: 'social-connection', description: 'Lunch club', status: 'scheduled' }],
    });
    const planId = (await plan.json()).carePlan.id as string;
    const summary = (await (
      await r.s.as(r.sp, `/fhir/Patient/${r.patientId}/$social-prescribing-summary`)
    ).json()) as Bundle;
    expect(summary.entry?.length).toBeGreaterThan(2);
    for (const entry of summary.entry ?? []) {
      const { resourceType, id } = entry.resource as { resourceType: string; id: string };
      expect(entry.fullUrl).toBe(`http://facade.test/fhir/${resourceType}/${id}`);
    }
    expect(emptyArrays(summary)).toEqual([]);
    // A plan with no outcome recorded yet.
    const outcomes = await (await r.s.as(r.sp, `/fhir/CarePlan/${planId}/$outcomes`)).json();
    expect(outcomes).toEqual({ resourceType: 'Parameters' });
  });

  it('an empty search of the contract has no entry; _include=* is a malformed request (400) everywhere', async () => {
    const { app } = await seededApp();
    for (const type of ['ValueSet', 'CodeSystem', 'StructureDefinition', 'Questionnaire']) {
      const none = await (await call(app, `/fhir/${type}?url=http://example.org/none`)).json();
      expect(emptyArrays(none), type).toEqual([]);
    }
    for (const path of [
      '/fhir/Organization?_include=*',
      '/fhir/Organization?_revinclude=*',
      '/fhir/ValueSet?_include=*',
    ]) {
      expect((await call(app, path)).status, path).toBe(400);
    }
  });
});

describe('the SMART configuration', () => {
  it('offers the scopes of what is served: per type the letters of its interactions, no delete, the directory’s writes', async () => {
    const s = await securedApp();
    const config = (await (await call(s.app, '/.well-known/smart-configuration')).json()) as {
      scopes_supported: string[];
    };
    const statement = await statementOf(s.app);
    const offered = config.scopes_supported;
    expect(offered).toEqual(
      expect.arrayContaining([
        'system/Organization.crus',
        'system/HealthcareService.crus',
        'system/Location.crus',
        'system/Questionnaire.rs',
        'system/*.rs',
      ]),
    );
    for (const text of offered) {
      const scope = parseScope(text);
      expect(scope, text).toBeDefined();
      expect(scope?.permissions.has('d'), text).toBe(false);
      if (scope?.type === '*') continue;
      const declared = new Set(
        (entryOf(statement, scope?.type as string)?.interaction ?? []).flatMap((i) => LETTER[i.code] ?? []),
      );
      expect([...(scope?.permissions ?? [])].sort(), text).toEqual([...declared].sort());
    }
    // The contract is read without a token: no scope is offered for it.
    expect(offered.some((scope) => /ValueSet|CodeSystem|StructureDefinition/.test(scope))).toBe(false);
  });

  it('refuses granular scopes (with a query) and says why, at the token endpoint and in both documents', async () => {
    const s = await securedApp();
    const refused = await s.tokenResponse(
      tokenForm(await assertionFor(SP), 'system/Task.rs?status=requested'),
    );
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_scope');
    expect(body.error_description).toMatch(/granular/);
    const config = (await (await call(s.app, '/.well-known/smart-configuration')).json()) as Record<
      string,
      unknown
    >;
    expect(String(config.scopes_not_supported)).toMatch(/granular/);
    const security = (await statementOf(s.app)).rest?.[0]?.security;
    expect(security?.description).toMatch(/granular/);
    // A scope beyond the registration is refused as before, without the granular reason.
    const beyond = await s.tokenResponse(tokenForm(await assertionFor(SP), 'system/AuditEvent.rs'));
    const beyondBody = (await beyond.json()) as OperationOutcome & { error_description: string };
    expect(beyondBody.error_description).not.toMatch(/granular/);
  });
});
