import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { Hono } from 'hono';
import { mayShowInAnswer } from '../auth/tenancy.ts';
import { carePlanInputFromBundle } from '../care-plans/care-plan-bundle.ts';
import { type CarePlanDeps, type CarePlanResult, createCarePlan } from '../care-plans/create-care-plan.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import type { AppEnv } from '../http/env.ts';
import { sendFhir } from '../http/respond.ts';
import { type IntakeDeps, type IntakeResult, submitReferral } from '../referrals/intake.ts';
import { parsePrefer, toTransactionResponse, versionedLocation } from '../referrals/responses.ts';
import { submitJsonReferral, submitServiceRequest } from '../referrals/submit-variants.ts';
import { createUnlessMatched } from '../workflow/conditional-create.ts';
import { type FhirFeature, sendCreated, storedButNotShown } from './feature.ts';

/** Referral intake: a GP system's transaction Bundle, a single ServiceRequest, or plain JSON. */
export function referralRoutes(
  deps: IntakeDeps,
  carePlans?: CarePlanDeps,
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
          carePlanTransactionResponse(body as Bundle, written, (r) => mayShowInAnswer(principal, r, true)),
        );
      }
      const result = await submitReferral(deps, body, c.get('ctx'));
      return sendFhir(c, toTransactionResponse(result, parsePrefer(c.req.header('prefer'))));
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

  const json = new Hono<AppEnv>().post('/referrals', async (c) => {
    const result = await submitJsonReferral(deps, c.get('body'), c.get('ctx'));
    const fhirBase = `${c.get('baseUrl')}/fhir`;
    const link = (r: { resourceType: string; id?: string }) => ({
      id: r.id,
      location: `${fhirBase}/${r.resourceType}/${r.id}`,
    });
    const patient = result.entries.find((e) => e.resource.resourceType === 'Patient')?.resource;
    return c.json(
      {
        status: result.kind,
        serviceRequest: link(result.serviceRequest),
        task: link(result.task),
        ...(patient ? { patient: link(patient) } : {}),
      },
      result.kind === 'created' ? 201 : 200,
      { Location: `${fhirBase}/ServiceRequest/${result.serviceRequest.id}` },
    );
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

/** One entry per entry posted, in order: what each became. */
function carePlanTransactionResponse(
  request: Bundle,
  written: CarePlanResult,
  shown: (resource: Resource) => boolean,
): Bundle {
  const goals = [...written.goals];
  const entry = (request.entry ?? []).map((e): BundleEntry => {
    const resource: Resource | undefined =
      e.resource?.resourceType === 'CarePlan'
        ? written.carePlan
        : e.resource?.resourceType === 'CareTeam'
          ? written.careTeam
          : goals.shift();
    const show = resource !== undefined && shown(resource);
    return {
      ...(resource && show ? { resource: toPublicResource(resource) } : {}),
      response: {
        status: '201 Created',
        ...(resource
          ? { location: versionedLocation(resource), etag: `W/"${resource.meta?.versionId}"` }
          : {}),
        ...(resource && !show ? { outcome: storedButNotShown(resource) } : {}),
      },
    };
  });
  return { resourceType: 'Bundle', type: 'transaction-response', entry };
}
