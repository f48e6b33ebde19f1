import type { Questionnaire } from '@medplum/fhirtypes';
import { Hono } from 'hono';
import { createCarePlanFromJson } from '../care-plans/care-plan-json.ts';
import { type CarePlanDeps, createCarePlan, publicResult } from '../care-plans/create-care-plan.ts';
import { MEETING_LIST_DEFINITION, meetingList, meetingListBundle } from '../care-plans/meeting-list.ts';
import { requireNoInput } from '../care-plans/operation-input.ts';
import {
  carePlanOutcomes,
  OUTCOMES_DEFINITION,
  QUESTIONNAIRES,
  recordOutcome,
  recordOutcomeFromJson,
} from '../care-plans/outcomes.ts';
import { searchQuestionnaires } from '../care-plans/questionnaires.ts';
import { SUMMARY_DEFINITION, SUMMARY_OPERATION, socialPrescribingSummary } from '../care-plans/summary.ts';
import { recordTeamConsentFromJson } from '../care-plans/team-consent-json.ts';
import { recordTeamConsent, updateCareTeam, updateTeamConsent } from '../care-plans/team-sharing.ts';
import { patchCarePlan, updateCarePlan } from '../care-plans/update-care-plan.ts';
import { FhirError } from '../fhir/outcomes.ts';
import { assertOnlyParams, RESPONSE_PARAMS } from '../fhir/search-values.ts';
import { asRead } from '../fhir/subset.ts';
import { SYSTEM } from '../fhir/systems.ts';
import type { AppEnv } from '../http/env.ts';
import { searchHandling } from '../http/prefer.ts';
import { queryOf } from '../http/query.ts';
import { sendFhir, sendResource } from '../http/respond.ts';
import { searchFormParams } from '../http/search-form.ts';
import { createUnlessMatched } from '../workflow/conditional-create.ts';
import { type FhirFeature, sendCreated, updateRoute } from './feature.ts';

/** The `since` parameter, required once. */
function sinceOf(query: URLSearchParams): string {
  const values = query.getAll('since');
  if (values.length !== 1) {
    throw new FhirError('malformed', [
      {
        code: 'required',
        diagnostics: 'since is required, once: the instant after which changes are listed',
        expression: ['since'],
      },
    ]);
  }
  return values[0] as string;
}

/** The referral's one care plan: created and updated as FHIR, or created from plain JSON. */
export function carePlanRoutes(deps: CarePlanDeps): { fhir: FhirFeature; json: Hono<AppEnv> } {
  const fhir = new Hono<AppEnv>()
    .post('/CarePlan', async (c) => {
      const body = c.get('body') as { resourceType?: string };
      if (body?.resourceType !== 'CarePlan') {
        throw new FhirError('malformed', [
          { code: 'structure', diagnostics: 'Expected a CarePlan', expression: ['resourceType'] },
        ]);
      }
      const ctx = c.get('ctx');
      const result = await createUnlessMatched(
        deps,
        ctx,
        'CarePlan',
        c.req.header('if-none-exist'),
        async () => {
          const { carePlan } = await createCarePlan(deps, ctx, {
            carePlan: body as never,
            at: 'CarePlan',
            goals: [],
          });
          return carePlan;
        },
      );
      return sendCreated(c, result.resource, result.created ? 'created' : 'matched');
    })
    .get('/CarePlan/:operation{\\$meeting-list}', async (c) => {
      const query = queryOf(c.req.url);
      assertOnlyParams(query, [...RESPONSE_PARAMS, 'since'], `$${MEETING_LIST_DEFINITION.code}`);
      const entries = await meetingList(deps.store, c.get('ctx'), sinceOf(query));
      return sendFhir(c, meetingListBundle(entries, c.get('baseUrl'), deps.clock().toISOString()));
    })
    .get(`/OperationDefinition/${MEETING_LIST_DEFINITION.id}`, (c) =>
      sendResource(c, asRead(MEETING_LIST_DEFINITION as never, queryOf(c.req.url))),
    )
    .on(['GET', 'POST'], '/Patient/:id/:operation{\\$social-prescribing-summary}', async (c) => {
      assertOnlyParams(queryOf(c.req.url), RESPONSE_PARAMS, `$${SUMMARY_OPERATION}`);
      if (c.req.method === 'POST') requireNoInput(c.get('body'), SUMMARY_OPERATION);
      return sendFhir(
        c,
        await socialPrescribingSummary(deps.store, c.get('ctx'), c.req.param('id'), c.get('baseUrl')),
      );
    })
    .get(`/OperationDefinition/${SUMMARY_OPERATION}`, (c) =>
      sendResource(c, asRead(SUMMARY_DEFINITION, queryOf(c.req.url))),
    )
    .get(`/OperationDefinition/${OUTCOMES_DEFINITION.id}`, (c) =>
      sendResource(c, asRead(OUTCOMES_DEFINITION, queryOf(c.req.url))),
    )
    // Grouped, so that the alternatives match the whole id and nothing that merely contains one.
    .get(`/Questionnaire/:id{(?:${QUESTIONNAIRES.map((q) => q.id).join('|')})}`, (c) =>
      sendResource(
        c,
        asRead(QUESTIONNAIRES.find((q) => q.id === c.req.param('id')) as Questionnaire, queryOf(c.req.url)),
      ),
    )
    .get('/Questionnaire', async (c) =>
      sendFhir(
        c,
        await searchQuestionnaires(c.get('ctx'), queryOf(c.req.url), c.get('baseUrl'), searchHandling(c)),
      ),
    )
    .post('/Questionnaire/_search', async (c) =>
      sendFhir(
        c,
        await searchQuestionnaires(
          c.get('ctx'),
          await searchFormParams(c),
          c.get('baseUrl'),
          searchHandling(c),
        ),
      ),
    )
    .on(['GET', 'POST'], '/CarePlan/:id/:operation{\\$outcomes}', async (c) => {
      assertOnlyParams(queryOf(c.req.url), RESPONSE_PARAMS, `$${OUTCOMES_DEFINITION.code}`);
      if (c.req.method === 'POST') requireNoInput(c.get('body'), OUTCOMES_DEFINITION.code);
      return sendFhir(c, await carePlanOutcomes(deps.store, c.get('ctx'), c.req.param('id')));
    })
    .post('/QuestionnaireResponse', async (c) => {
      const ctx = c.get('ctx');
      const body = c.get('body') as { resourceType?: string } | undefined;
      if (body?.resourceType !== 'QuestionnaireResponse') {
        throw new FhirError('malformed', [
          {
            code: 'structure',
            diagnostics: 'Expected a QuestionnaireResponse',
            expression: ['resourceType'],
          },
        ]);
      }
      const result = await createUnlessMatched(
        deps,
        ctx,
        'QuestionnaireResponse',
        c.req.header('if-none-exist'),
        () => recordOutcome(deps, ctx, body),
      );
      return sendCreated(c, result.resource, result.created ? 'created' : 'matched');
    })
    .patch(
      '/CarePlan/:id',
      updateRoute((ctx, id, body, ifMatch) => patchCarePlan(deps, ctx, id, body, ifMatch)),
    )
    .put(
      '/CarePlan/:id',
      updateRoute((ctx, id, body, ifMatch) => updateCarePlan(deps, ctx, id, body, ifMatch)),
    )
    // The person's consent to share their plan with its care team, and the team itself.
    .post('/Consent', async (c) => {
      const result = await recordTeamConsent(deps, c.get('ctx'), c.get('body'));
      return sendCreated(c, result.resource, result.created ? 'created' : 'matched');
    })
    .put(
      '/Consent/:id',
      updateRoute(
        async (ctx, id, body, ifMatch) => (await updateTeamConsent(deps, ctx, id, body, ifMatch)).resource,
      ),
    )
    .put(
      '/CareTeam/:id',
      updateRoute(
        async (ctx, id, body, ifMatch) => (await updateCareTeam(deps, ctx, id, body, ifMatch)).resource,
      ),
    );

  const json = new Hono<AppEnv>();
  json.post('/referrals/:id/outcomes', async (c) => {
    const response = await recordOutcomeFromJson(deps, c.get('ctx'), c.req.param('id'), c.get('body'));
    const location = `${c.get('baseUrl')}/fhir/QuestionnaireResponse/${response.id}`;
    return c.json(
      { questionnaireResponse: { id: response.id, versionId: response.meta?.versionId, location } },
      201,
      { Location: location },
    );
  });
  json.get('/care-team/meeting-list', async (c) => {
    const entries = await meetingList(deps.store, c.get('ctx'), sinceOf(queryOf(c.req.url)));
    const fhirBase = `${c.get('baseUrl')}/fhir`;
    return c.json({
      since: queryOf(c.req.url).get('since'),
      people: entries.map((e) => ({
        patient: {
          id: e.patient.id,
          nhsNumber: e.patient.identifier?.find((i) => i.system === SYSTEM.nhsNumber)?.value,
          name: e.patient.name?.[0]
            ? [...(e.patient.name[0].given ?? []), e.patient.name[0].family].filter(Boolean).join(' ')
            : undefined,
          birthDate: e.patient.birthDate,
          location: `${fhirBase}/Patient/${e.patient.id}`,
        },
        carePlan: {
          id: e.carePlan.id,
          title: e.carePlan.title,
          status: e.carePlan.status,
          location: `${fhirBase}/CarePlan/${e.carePlan.id}`,
        },
        ...(e.task
          ? {
              referralStatus: {
                status: e.task.status,
                businessStatus: e.task.businessStatus?.text ?? e.task.businessStatus?.coding?.[0]?.display,
              },
            }
          : {}),
        changes: e.changes.map((ch) => ({ ...ch, location: `${fhirBase}/${ch.reference}` })),
      })),
    });
  });
  json.post('/referrals/:id/care-team/consent', async (c) => {
    const result = await recordTeamConsentFromJson(deps, c.get('ctx'), c.req.param('id'), c.get('body'));
    const location = `${c.get('baseUrl')}/fhir/Consent/${result.resource.id}`;
    return c.json(
      {
        consent: {
          id: result.resource.id,
          versionId: result.resource.meta?.versionId,
          status: result.resource.status,
          location,
        },
        sharedWith: result.sharedWith,
      },
      result.created ? 201 : 200,
      { Location: location },
    );
  });
  json.post('/referrals/:id/care-plan', async (c) => {
    const result = publicResult(
      await createCarePlanFromJson(deps, c.get('ctx'), c.req.param('id'), c.get('body')),
    );
    const fhirBase = `${c.get('baseUrl')}/fhir`;
    const link = (r: { resourceType: string; id?: string; meta?: { versionId?: string } }) => ({
      id: r.id,
      versionId: r.meta?.versionId,
      location: `${fhirBase}/${r.resourceType}/${r.id}`,
    });
    return c.json(
      {
        carePlan: link(result.carePlan),
        goals: result.goals.map(link),
        ...(result.careTeam ? { careTeam: link(result.careTeam) } : {}),
      },
      201,
      { Location: `${fhirBase}/CarePlan/${result.carePlan.id}` },
    );
  });

  return {
    fhir: {
      routes: fhir,
      capabilities: [
        {
          type: 'CarePlan',
          interactions: ['create', 'update', 'patch'],
          conditionalCreate: true,
          operations: [
            { name: 'outcomes', definition: OUTCOMES_DEFINITION.url },
            { name: MEETING_LIST_DEFINITION.code, definition: MEETING_LIST_DEFINITION.url },
          ],
        },
        { type: 'QuestionnaireResponse', interactions: ['create'], conditionalCreate: true },
        { type: 'Consent', interactions: ['create', 'update'] },
        { type: 'CareTeam', interactions: ['update'] },
        // The outcome Questionnaires are published definitions served from terminology/, not
        // stored: the store's versions and search of them would find nothing.
        {
          type: 'Questionnaire',
          interactions: ['read', 'search-type'],
          published: true,
          searchParams: [
            { name: 'url', type: 'uri', definition: 'http://hl7.org/fhir/SearchParameter/Questionnaire-url' },
          ],
          withdraws: ['vread', 'history-instance'],
        },
        {
          type: 'Patient',
          interactions: [],
          operations: [{ name: SUMMARY_OPERATION, definition: SUMMARY_DEFINITION.url as string }],
        },
      ],
    },
    json,
  };
}
