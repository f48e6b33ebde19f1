import type { Questionnaire } from '@medplum/fhirtypes';
import { Hono } from 'hono';
import { createCarePlanFromJson } from '../care-plans/care-plan-json.ts';
import { type CarePlanDeps, createCarePlan, publicResult } from '../care-plans/create-care-plan.ts';
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
import { patchCarePlan, updateCarePlan } from '../care-plans/update-care-plan.ts';
import { FhirError } from '../fhir/outcomes.ts';
import { assertOnlyParams, RESPONSE_PARAMS } from '../fhir/search-values.ts';
import { asRead } from '../fhir/subset.ts';
import type { AppEnv } from '../http/env.ts';
import { searchHandling } from '../http/prefer.ts';
import { queryOf } from '../http/query.ts';
import { sendFhir, sendResource } from '../http/respond.ts';
import { searchFormParams } from '../http/search-form.ts';
import { createUnlessMatched } from '../workflow/conditional-create.ts';
import { type FhirFeature, sendCreated, updateRoute } from './feature.ts';

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
          operations: [{ name: 'outcomes', definition: OUTCOMES_DEFINITION.url }],
        },
        { type: 'QuestionnaireResponse', interactions: ['create'], conditionalCreate: true },
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
