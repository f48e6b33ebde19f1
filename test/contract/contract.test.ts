import { readdirSync, readFileSync } from 'node:fs';
import type {
  Bundle,
  CapabilityStatement,
  CapabilityStatementRestResource,
  OperationDefinition,
  StructureDefinition,
  ValueSet,
} from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import required from '../../src/fhir/definitions/required-value-sets.json' with { type: 'json' };
import { call, createTestApp, expectOutcome } from '../support/app.ts';
import { securedApp } from '../support/secured.ts';

const GENERATED = new URL('../../profiles/generated/', import.meta.url);
const PROFILES = readdirSync(GENERATED).map(
  (f) => JSON.parse(readFileSync(new URL(f, GENERATED), 'utf8')) as StructureDefinition,
);

/** Every binding in every published profile: the value set named, its strength, and where. */
const BINDINGS = PROFILES.flatMap((sd) =>
  (sd.snapshot?.element ?? []).flatMap((e) =>
    e.binding?.valueSet
      ? [{ at: `${sd.id} ${e.path}`, valueSet: e.binding.valueSet, strength: e.binding.strength }]
      : [],
  ),
);

async function json<T>(response: Response, status = 200): Promise<T> {
  expect(response.status, response.url).toBe(status);
  return (await response.json()) as T;
}

const entryOf = (statement: CapabilityStatement, type: string) =>
  statement.rest?.[0]?.resource?.find((r) => r.type === type) as CapabilityStatementRestResource;
const interactions = (r: CapabilityStatementRestResource | undefined) =>
  (r?.interaction ?? []).map((i) => i.code);

describe('the contract, complete', () => {
  it('resolves every binding of every published profile to a served ValueSet, by url', async () => {
    const { app } = createTestApp();
    expect(BINDINGS.length).toBeGreaterThan(50);
    for (const binding of BINDINGS) {
      const found = await json<Bundle<ValueSet>>(
        await call(app, `/fhir/ValueSet?url=${encodeURIComponent(binding.valueSet)}`),
      );
      expect(found.type).toBe('searchset');
      expect(
        found.entry?.map((e) => e.resource?.url),
        binding.at,
      ).toEqual([binding.valueSet.split('|')[0]]);
      const id = found.entry?.[0]?.resource?.id;
      expect((await call(app, `/fhir/ValueSet/${id}`)).status, binding.at).toBe(200);
    }
  });

  it('expands every value set a profile binds as required, to the codes the service enforces', async () => {
    const { app } = createTestApp();
    const urls = [...new Set(BINDINGS.filter((b) => b.strength === 'required').map((b) => b.valueSet))];
    for (const url of urls) {
      const expanded = await json<ValueSet>(
        await call(app, `/fhir/ValueSet/$expand?url=${encodeURIComponent(url)}`),
      );
      const codes = (expanded.expansion?.contains ?? []).map((c) => `${c.system}|${c.code}`).sort();
      expect(codes.length, url).toBeGreaterThan(0);
      const enforced = (required.valueSets as Record<string, string[]>)[url.split('|')[0] as string];
      expect(codes, url).toEqual(enforced);
    }
  });

  it('serves the HL7 value sets the profiles inherit, expandable by url and by id', async () => {
    const { app } = createTestApp();
    for (const [id, code] of [
      ['request-status', 'active'],
      ['administrative-gender', 'female'],
      ['task-status', 'requested'],
      ['care-plan-intent', 'plan'],
      ['request-intent', 'order'],
      ['consent-state-codes', 'active'],
    ]) {
      const url = `http://hl7.org/fhir/ValueSet/${id}`;
      const byId = await json<ValueSet>(await call(app, `/fhir/ValueSet/${id}/$expand`));
      expect(byId.url).toBe(url);
      expect(byId.expansion?.contains?.map((c) => c.code)).toContain(code);
      const check = await json<{ parameter: { name: string; valueBoolean?: boolean }[] }>(
        await call(app, `/fhir/ValueSet/$validate-code?url=${url}&code=${code}`),
      );
      expect(check.parameter[0]).toEqual({ name: 'result', valueBoolean: true });
    }
    // Published for reference, but only a terminology server could list SNOMED CT by filter.
    await expectOutcome(
      await call(app, '/fhir/ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/clinical-findings'),
      422,
      'not-supported',
    );
  });

  it('answers searches by canonical url with a searchset, empty when nothing has that url', async () => {
    const { app } = createTestApp();
    for (const type of ['ValueSet', 'CodeSystem', 'StructureDefinition']) {
      const response = await call(app, `/fhir/${type}?url=http://example.org/unknown`);
      // FHIR JSON has no empty arrays: an empty searchset has no entry at all.
      expect(await response.clone().text()).not.toContain('[]');
      const none = await json<Bundle>(response);
      expect([none.resourceType, none.type, none.total, none.entry]).toEqual([
        'Bundle',
        'searchset',
        0,
        undefined,
      ]);
      const all = await json<Bundle>(await call(app, `/fhir/${type}`));
      expect(all.total).toBeGreaterThan(0);
      const first = all.entry?.[0]?.resource as { url: string; id: string };
      const one = await json<Bundle>(await call(app, `/fhir/${type}?url=${encodeURIComponent(first.url)}`));
      expect(one.entry?.map((e) => e.resource?.id)).toEqual([first.id]);
      expect(one.entry?.[0]?.fullUrl).toBe(`http://facade.test/fhir/${type}/${first.id}`);
      const posted = await call(app, `/fhir/${type}/_search`, {
        body: `url=${encodeURIComponent(first.url)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect((await json<Bundle>(posted)).total).toBe(1);
    }
    const versioned = await json<Bundle>(
      await call(app, '/fhir/ValueSet?url=http://hl7.org/fhir/ValueSet/request-status|4.0.1'),
    );
    expect(versioned.total).toBe(1);
    const otherVersion = await json<Bundle>(
      await call(app, '/fhir/ValueSet?url=http://hl7.org/fhir/ValueSet/request-status|3.0.2'),
    );
    expect(otherVersion.total).toBe(0);
    const paged = await json<Bundle>(await call(app, '/fhir/ValueSet?_count=2'));
    expect(paged.entry).toHaveLength(2);
    expect(paged.link?.find((l) => l.relation === 'next')?.url).toContain('_offset=2');
    await expectOutcome(await call(app, '/fhir/ValueSet?name=x'), 400, 'invalid');
  });
});

describe('the CapabilityStatement, honest', () => {
  it('declares only search parameters that are answered: the store’s (no composite or special ones), and near, which the facade answers', async () => {
    const { app } = createTestApp();
    const statement = await json<CapabilityStatement>(await call(app, '/metadata'));
    const declared = (type: string) => entryOf(statement, type).searchParam?.map((p) => p.name) ?? [];
    expect(entryOf(statement, 'Location').searchParam?.find((p) => p.name === 'near')).toMatchObject({
      type: 'special',
      definition: 'http://hl7.org/fhir/SearchParameter/Location-near',
    });
    expect(declared('Observation')).not.toContain('code-value-quantity');
    expect(declared('Observation')).not.toContain('combo-code-value-concept');
    expect(declared('Questionnaire')).not.toContain('context-type-value');
    for (const r of statement.rest?.[0]?.resource ?? []) {
      for (const p of r.searchParam ?? []) {
        if (r.type === 'Location' && p.name === 'near') continue;
        expect(['composite', 'special'], `${r.type}.${p.name}`).not.toContain(p.type);
        expect(p.definition, `${r.type}.${p.name}`).toMatch(/^http/);
      }
    }
    expect((await call(app, '/fhir/Patient?_id=x')).status).toBe(200);
  });

  it('declares the Questionnaires as read and searched by url, as the files they are served from: not versioned', async () => {
    const { app } = createTestApp();
    const questionnaire = entryOf(
      await json<CapabilityStatement>(await call(app, '/metadata')),
      'Questionnaire',
    );
    expect(interactions(questionnaire)).toEqual(['read', 'search-type']);
    expect(questionnaire.searchParam?.map((p) => p.name)).toEqual(['url']);
    expect(questionnaire.readHistory).toBe(false);
    expect(questionnaire.conditionalRead).toBeUndefined();
    const url = 'https://fhir.social-prescribing.example.org/Questionnaire/swemwbs';
    const found = await json<Bundle>(await call(app, `/fhir/Questionnaire?url=${encodeURIComponent(url)}`));
    expect(found.entry?.map((e) => e.resource?.id)).toEqual(['swemwbs']);
    expect(found.entry?.[0]?.fullUrl).toBe('http://facade.test/fhir/Questionnaire/swemwbs');
    const all = await json<Bundle>(await call(app, '/fhir/Questionnaire'));
    expect(all.entry?.map((e) => e.resource?.id).sort()).toEqual(['ons4-personal-wellbeing', 'swemwbs']);
    const none = await json<Bundle>(await call(app, '/fhir/Questionnaire?url=http://example.org/none'));
    expect([none.total, none.entry]).toEqual([0, undefined]);
    await expectOutcome(await call(app, '/fhir/Questionnaire?name=swemwbs'), 400, 'invalid');
  });

  it('declares AuditEvent reads only where a client can be granted them (not in the open local mode)', async () => {
    const { app } = createTestApp();
    const open = entryOf(await json(await call(app, '/metadata')), 'AuditEvent');
    // No `interaction: []`: FHIR JSON has no empty arrays.
    expect(open).not.toHaveProperty('interaction');
    const refused = await expectOutcome(await call(app, '/fhir/AuditEvent'), 403, 'forbidden');
    expect(refused.issue[0].diagnostics).toMatch(/^The open local mode does not grant search on AuditEvent/);
    const s = await securedApp();
    const secured = entryOf(await json(await call(s.app, '/metadata')), 'AuditEvent');
    expect(interactions(secured)).toEqual(expect.arrayContaining(['read', 'search-type']));
  });

  it('declares $validate, $expand and $validate-code with OperationDefinitions it serves', async () => {
    const { app } = createTestApp();
    const statement = await json<CapabilityStatement>(await call(app, '/metadata'));
    const operations = (type: string) => entryOf(statement, type).operation ?? [];
    expect(operations('ValueSet').map((o) => o.name)).toEqual(
      expect.arrayContaining(['expand', 'validate-code']),
    );
    for (const type of ['Patient', 'ServiceRequest', 'Task', 'CarePlan', 'AuditEvent']) {
      expect(
        operations(type).map((o) => o.name),
        type,
      ).toContain('validate');
    }
    for (const r of statement.rest?.[0]?.resource ?? []) {
      for (const operation of r.operation ?? []) {
        const id = operation.definition.split('/').pop();
        const definition = await json<OperationDefinition>(
          await call(app, `/fhir/OperationDefinition/${id}`),
        );
        expect([definition.url, definition.code]).toEqual([operation.definition, operation.name]);
      }
    }
    expect(interactions(entryOf(statement, 'OperationDefinition'))).toEqual(['read']);
    expect(interactions(entryOf(statement, 'ValueSet'))).toEqual(['read', 'search-type']);
    expect(entryOf(statement, 'ValueSet').searchParam?.map((p) => p.name)).toEqual(['url']);
  });

  it('declares the _include and _revinclude values the store answers', async () => {
    const { app } = createTestApp();
    const statement = await json<CapabilityStatement>(await call(app, '/metadata'));
    const referral = entryOf(statement, 'ServiceRequest');
    expect(referral.searchInclude).toEqual(expect.arrayContaining(['ServiceRequest:patient']));
    expect(referral.searchRevInclude).toEqual(expect.arrayContaining(['Task:focus', 'Provenance:target']));
    expect(entryOf(statement, 'CarePlan').searchInclude).toEqual(
      expect.arrayContaining(['CarePlan:goal', 'CarePlan:care-team']),
    );
    // Only the store includes: the contract's own searches take no _include.
    expect(entryOf(statement, 'ValueSet').searchRevInclude).toBeUndefined();
  });
});
