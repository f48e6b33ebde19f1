import type { OperationDefinition, OperationOutcome, ValueSet } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { organisation } from '../directory/support.ts';
import { call, createTestApp, expectOutcome } from '../support/app.ts';

// $expand's inputs (https://hl7.org/fhir/R4/valueset-operation-expand.html) and $validate's mode
// (https://hl7.org/fhir/R4/resource-operation-validate.html): each honoured as FHIR defines it,
// or refused, never accepted and left unapplied.

const REASONS = 'https://fhir.social-prescribing.example.org/ValueSet/social-prescribing-referral-reasons';
const expandOf = (query: string) => `/fhir/ValueSet/$expand?url=${encodeURIComponent(REASONS)}&${query}`;

async function expanded(response: Response): Promise<ValueSet> {
  expect(response.status).toBe(200);
  return (await response.json()) as ValueSet;
}

const codes = (vs: ValueSet) => (vs.expansion?.contains ?? []).map((c) => c.code);

describe('$expand', () => {
  it('narrows by filter: each word begins a word of the display, case and accents aside', async () => {
    const { app } = createTestApp();
    const all = await expanded(await call(app, expandOf('')));
    const lonely = await expanded(await call(app, expandOf('filter=LONEL')));
    expect(codes(lonely).length).toBeGreaterThan(0);
    expect(codes(lonely).length).toBeLessThan(codes(all).length);
    for (const concept of lonely.expansion?.contains ?? []) expect(concept.display).toMatch(/\blonel/i);
    expect(lonely.expansion?.total).toBe(codes(lonely).length);
    expect(lonely.expansion?.parameter).toEqual([{ name: 'filter', valueString: 'LONEL' }]);
    // Inside a word is not the start of one.
    expect(codes(await expanded(await call(app, expandOf('filter=oneliness'))))).toEqual([]);
    const none = await expanded(await call(app, expandOf('filter=zzzz')));
    expect([none.expansion?.total, none.expansion?.contains]).toEqual([0, undefined]);
  });

  it('pages by offset and count, the total over every page', async () => {
    const { app } = createTestApp();
    const all = codes(await expanded(await call(app, expandOf(''))));
    const page = await expanded(await call(app, expandOf('offset=2&count=3')));
    expect(codes(page)).toEqual(all.slice(2, 5));
    expect(page.expansion?.total).toBe(all.length);
    expect(page.expansion?.offset).toBe(2);
    const sized = await expanded(await call(app, expandOf('count=0')));
    expect([sized.expansion?.total, sized.expansion?.contains]).toEqual([all.length, undefined]);
    await expectOutcome(await call(app, expandOf('count=-1')), 400, 'invalid');
    await expectOutcome(await call(app, expandOf('count=1&count=2')), 400, 'invalid');
  });

  it('leaves the definition out with includeDefinition=false, and takes the inputs from a Parameters body', async () => {
    const { app } = createTestApp();
    expect((await expanded(await call(app, expandOf('')))).compose).toBeDefined();
    expect((await expanded(await call(app, expandOf('includeDefinition=false')))).compose).toBeUndefined();
    const posted = await expanded(
      await call(app, '/fhir/ValueSet/$expand', {
        body: {
          resourceType: 'Parameters',
          parameter: [
            { name: 'url', valueUri: REASONS },
            { name: 'filter', valueString: 'lonel' },
            { name: 'count', valueInteger: 1 },
          ],
        },
      }),
    );
    expect(codes(posted)).toHaveLength(1);
    expect(posted.expansion?.total).toBeGreaterThan(0);
  });

  it('refuses what it cannot honour, naming it, and says in its OperationDefinition what it takes', async () => {
    const { app } = createTestApp();
    for (const query of ['activeOnly=false', 'includeDesignations=false', 'excludeNested=true']) {
      expect((await call(app, expandOf(query))).status, query).toBe(200);
    }
    for (const [query, at] of [
      ['activeOnly=true', 'activeOnly'],
      ['includeDesignations=true', 'includeDesignations'],
    ]) {
      const outcome = await expectOutcome(await call(app, expandOf(query as string)), 400, 'not-supported');
      expect(outcome.issue[0].expression).toEqual([at]);
    }
    for (const [query, at] of [
      ['displayLanguage=en', 'displayLanguage'],
      ['activeOnly=maybe', 'activeOnly'],
      ['offset=abc', 'offset'],
      ['offset=-1', 'offset'],
      ['count=1.5', 'count'],
      ['filter=a&filter=b', 'filter'],
      ['count=2&count=3', 'count'],
    ]) {
      const outcome = await expectOutcome(await call(app, expandOf(query as string)), 400, 'invalid');
      expect(outcome.issue[0].expression).toEqual([at]);
    }
    await expectOutcome(
      await call(
        app,
        `/fhir/ValueSet/social-prescribing-referral-reasons/$expand?url=${encodeURIComponent(REASONS)}`,
      ),
      400,
      'invalid',
    );
    const definition = (await (
      await call(app, '/fhir/OperationDefinition/ValueSet-expand')
    ).json()) as OperationDefinition;
    const inputs = (definition.parameter ?? []).filter((p) => p.use === 'in').map((p) => p.name);
    expect(inputs).toEqual([
      'url',
      'filter',
      'offset',
      'count',
      'includeDesignations',
      'includeDefinition',
      'activeOnly',
      'excludeNested',
    ]);
  });
});

describe('$validate', () => {
  const validate = (
    app: ReturnType<typeof createTestApp>['app'],
    type: string,
    query: string,
    body: unknown,
  ) => call(app, `/fhir/${type}/$validate${query}`, { body });

  const diagnostics = (outcome: OperationOutcome) => (outcome.issue ?? []).map((i) => i.diagnostics);

  it('mode=create and update say whether the service takes that write of the type, and an update names its id', async () => {
    const { app } = createTestApp();
    const org = organisation('VAL01', 'Validate Trust');
    const patient = { resourceType: 'Patient', name: [{ family: 'Okafor' }] };
    const plain = (await (await validate(app, 'Patient', '', patient)).json()) as OperationOutcome;
    expect(plain.issue?.some((i) => i.code === 'not-supported')).toBe(false);
    const created = (await (
      await validate(app, 'Patient', '?mode=create', patient)
    ).json()) as OperationOutcome;
    expect(created.issue).toEqual(
      expect.arrayContaining([expect.objectContaining({ severity: 'error', code: 'not-supported' })]),
    );
    expect(diagnostics(created)).toContain('This service does not create a Patient on its own');
    const orgCreate = (await (
      await validate(app, 'Organization', '?mode=create', org)
    ).json()) as OperationOutcome;
    expect(diagnostics(orgCreate)).toEqual(['No problems found']);
    const noId = (await (
      await validate(app, 'Organization', '?mode=update', org)
    ).json()) as OperationOutcome;
    expect(noId.issue).toEqual([
      expect.objectContaining({ code: 'required', expression: ['Organization.id'] }),
    ]);
    const withId = await validate(app, 'Organization', '', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'mode', valueCode: 'update' },
        { name: 'resource', resource: { ...org, id: 'val01' } },
      ],
    });
    expect(diagnostics((await withId.json()) as OperationOutcome)).toEqual(['No problems found']);
  });

  it('mode=profile checks base R4 alone without a profile; delete and unknown modes are refused', async () => {
    const { app } = createTestApp();
    // Valid R4, but not the service's referral profile.
    const bare = {
      resourceType: 'ServiceRequest',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/x' },
    };
    const profiled = (await (await validate(app, 'ServiceRequest', '', bare)).json()) as OperationOutcome;
    expect(profiled.issue?.some((i) => i.severity === 'error')).toBe(true);
    const base = (await (
      await validate(app, 'ServiceRequest', '?mode=profile', bare)
    ).json()) as OperationOutcome;
    expect(diagnostics(base)).toEqual(['No problems found']);
    const deleted = await expectOutcome(
      await validate(app, 'Organization', '?mode=delete', organisation('VAL02')),
      400,
      'not-supported',
    );
    expect(deleted.issue[0].expression).toEqual(['mode']);
    await expectOutcome(
      await validate(app, 'Organization', '?mode=bogus', organisation('VAL03')),
      400,
      'invalid',
    );
    await expectOutcome(
      await validate(app, 'Organization', '?bogus=1', organisation('VAL04')),
      400,
      'invalid',
    );
    const definition = (await (
      await call(app, '/fhir/OperationDefinition/Resource-validate')
    ).json()) as OperationDefinition;
    expect(definition.parameter?.find((p) => p.name === 'mode')?.documentation).toMatch(/delete is refused/);
  });
});
