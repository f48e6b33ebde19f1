import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { Hono } from 'hono';
import { mayShowInAnswer } from '../auth/tenancy.ts';
import { carePlanInputFromBundle } from '../care-plans/care-plan-bundle.ts';
import { type CarePlanDeps, type CarePlanResult, createCarePlan } from '../care-plans/create-care-plan.ts';
import { operationOutcome } from '../fhir/outcomes.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import { assertOnlyParams, RESPONSE_PARAMS } from '../fhir/search-values.ts';
import type { AppEnv } from '../http/env.ts';
import { queryOf } from '../http/query.ts';
import { sendFhir } from '../http/respond.ts';
import type { AsyncIntakeDeps } from '../referrals/async-intake.ts';
import { type IntakeDeps, type IntakeResult, submitReferral } from '../referrals/intake.ts';
import { parsePrefer, type ReturnPreference, versionedLocation } from '../referrals/responses.ts';
import { submitJsonReferral, submitServiceRequest } from '../referrals/submit-variants.ts';
import { createUnlessMatched } from '../workflow/conditional-create.ts';
import { acceptLater, sendJobStatus, wantsAsync } from './async-referrals.ts';
import { type FhirFeature, sendCreated, storedButNotShown } from './feature.ts';
import { jsonReferralAnswer, transactionAnswer } from './referral-answers.ts';

/**
 * Referral intake: a GP system's transaction Bundle, a single ServiceRequest, or plain JSON; the
 * Bundle and the JSON also with `Prefer: respond-async` where async jobs are kept.
 */
export function referralRoutes(
  deps: IntakeDeps,
  carePlans?: CarePlanDeps,
  asyncIntake?: AsyncIntakeDeps,
): { fhir: FhirFeature; json: Hono<AppEnv> } {
  const fhir = new Hono<AppEnv>()
    .post('/', async (c) => {
      const body = c.get('body');
      // A transaction Bundle holding a care plan (and no referral) is the care plan's.
      if (carePlans && isCarePlanBundle(body)) {
        const principal = c.get('ctx').principal;
        const written = await createCarePlan(
          carePlans,
          c.get('ctx'),
          carePlanInputFromBundle(body as Bundle),
        );
        return sendFhir(
          c,
          carePlanTransactionResponse(body as Bundle, written, {
            shown: (r) => mayShowInAnswer(principal, r),
            fhirBase: `${c.get('baseUrl')}/fhir`,
            prefer: parsePrefer(c.req.header('prefer')),
          }),
        );
      }
      if (asyncIntake && wantsAsync(c)) return acceptLater(c, { ...deps, ...asyncIntake }, 'bundle');
      const result = await submitReferral(deps, body, c.get('ctx'));
      const answer = transactionAnswer(result, parsePrefer(c.req.header('prefer')), c.get('baseUrl'));
      return sendFhir(c, answer.body, answer);
    })

    .post('/ServiceRequest', async (c) => {
      const ctx = c.get('ctx');
      const body = c.get('body') as { resourceType?: string } | undefined;
      const intake: { result?: IntakeResult } = {};
      const written = await createUnlessMatched(
        deps,
        ctx,
        'ServiceRequest',
        // Criteria are looked at only for a ServiceRequest; anything else is refused as such first.
        body?.resourceType === 'ServiceRequest' ? c.req.header('if-none-exist') : undefined,
        async () => {
          intake.result = await submitServiceRequest(deps, body, ctx);
          return intake.result.serviceRequest;
        },
      );
      const { result } = intake;
      if (!written.created || !result) return sendCreated(c, written.resource, 'matched');
      return sendCreated(
        c,
        result.serviceRequest,
        result.kind === 'created' ? 'created' : 'unchanged',
        `Progress is tracked by Task/${result.task.id}`,
      );
    });

  // Without async jobs (a Worker without its job objects or outbox Queue), `_async` is no route.
  if (asyncIntake)
    fhir.get('/_async/:id', (c) => {
      assertOnlyParams(queryOf(c.req.url), RESPONSE_PARAMS, 'An asynchronous request’s status');
      return sendJobStatus(c, asyncIntake.jobs);
    });

  const json = new Hono<AppEnv>().post('/referrals', async (c) => {
    if (asyncIntake && wantsAsync(c)) return acceptLater(c, { ...deps, ...asyncIntake }, 'json');
    const result = await submitJsonReferral(deps, c.get('body'), c.get('ctx'));
    const answer = jsonReferralAnswer(result, c.get('baseUrl'));
    return c.json(answer.body, answer.status, answer.headers);
  });

  return {
    fhir: {
      routes: fhir,
      capabilities: [{ type: 'ServiceRequest', interactions: ['create'], conditionalCreate: true }],
      systemInteractions: ['transaction'],
    },
    json,
  };
}

function isCarePlanBundle(body: unknown): boolean {
  const entries = (body as Bundle)?.resourceType === 'Bundle' ? (body as Bundle).entry : undefined;
  if (!Array.isArray(entries)) return false;
  const types = entries.map((e) => (e as BundleEntry | null)?.resource?.resourceType);
  return types.includes('CarePlan') && !types.includes('ServiceRequest');
}

/**
 * One entry per entry posted, in order: what each became, in the form `Prefer: return=` asks
 * for (https://hl7.org/fhir/R4/http.html#trules): the resource where the caller may read it, an
 * OperationOutcome, or neither.
 */
function carePlanTransactionResponse(
  request: Bundle,
  written: CarePlanResult,
  answer: { shown: (resource: Resource) => boolean; fhirBase: string; prefer: ReturnPreference },
): Bundle {
  const goals = [...written.goals];
  const entry = (request.entry ?? []).map((e): BundleEntry => {
    const resource: Resource | undefined =
      e.resource?.resourceType === 'CarePlan'
        ? written.carePlan
        : e.resource?.resourceType === 'CareTeam'
          ? written.careTeam
          : goals.shift();
    const show = resource !== undefined && answer.shown(resource);
    const outcome = resource ? entryOutcome(resource, show, answer.prefer) : undefined;
    return {
      ...(resource && show && answer.prefer === 'representation'
        ? {
            fullUrl: `${answer.fhirBase}/${resource.resourceType}/${resource.id}`,
            resource: toPublicResource(resource),
          }
        : {}),
      response: {
        status: '201 Created',
        ...(resource
          ? { location: versionedLocation(resource), etag: `W/"${resource.meta?.versionId}"` }
          : {}),
        ...(outcome ? { outcome } : {}),
      },
    };
  });
  return { resourceType: 'Bundle', type: 'transaction-response', entry };
}

/** What an entry's response says of its resource: why it is not shown, or, when asked, that it was stored. */
function entryOutcome(resource: Resource, shown: boolean, prefer: ReturnPreference) {
  if (prefer === 'minimal') return undefined;
  if (!shown) return storedButNotShown(resource);
  if (prefer !== 'OperationOutcome') return undefined;
  return operationOutcome([
    {
      severity: 'information',
      code: 'informational',
      diagnostics: `Stored as ${resource.resourceType}/${resource.id}`,
    },
  ]);
}
