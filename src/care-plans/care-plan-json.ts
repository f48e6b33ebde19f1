import type { Reference } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { Failures, invalidBody, withExpressionsAs } from '../fhir/outcomes.ts';
import { carePlanJsonToFhir } from '../mapping/care-plan-json-to-fhir.ts';
import { CarePlanJsonSchema } from '../schemas/care-plan-json.ts';
import { findReferral } from '../workflow/referral-record.ts';
import { type CarePlanDeps, type CarePlanResult, createCarePlan } from './create-care-plan.ts';

/** JSON paths of the plain care plan, for the FHIR paths the checks name. */
const JSON_ALIASES: [RegExp, string][] = [
  [/^CarePlan\.activity\[(\d+)\]\.detail\.code$/, 'activities[$1].category'],
  [/^CarePlan\.activity\[(\d+)\]\.detail\.status$/, 'activities[$1].status'],
  [/^careTeam\.participant\[(\d+)\]\.role$/, 'careTeam[$1].role'],
  [/^CarePlan\.supportingInfo.*$/, '(referral)'],
];

function asJsonPath(expression: string): string {
  for (const [pattern, alias] of JSON_ALIASES)
    if (pattern.test(expression)) return expression.replace(pattern, alias);
  return expression;
}

/** `POST /referrals/{id}/care-plan`: the plain JSON care plan, checked, mapped, then the same creation. */
export async function createCarePlanFromJson(
  deps: CarePlanDeps,
  ctx: RequestContext,
  serviceRequestId: string,
  body: unknown,
): Promise<CarePlanResult> {
  authorize(ctx.principal, 'CarePlan', 'c');
  const parsed = CarePlanJsonSchema.safeParse(body);
  if (!parsed.success) throw invalidBody(parsed.error);
  const referral = await findReferral(deps.store, ctx, serviceRequestId);
  if (!referral) throw Failures.notFound();
  const mapped = carePlanJsonToFhir(
    parsed.data,
    {
      serviceRequest: `ServiceRequest/${serviceRequestId}`,
      subject: referral.serviceRequest.subject as Reference,
    },
    deps.newId,
  );
  return withExpressionsAs(asJsonPath, () =>
    createCarePlan(deps, ctx, {
      carePlan: mapped.carePlan,
      at: 'CarePlan',
      goals: mapped.goals.map((g, i) => ({ ...g, at: `goals[${i}]` })),
      ...(mapped.careTeam ? { careTeam: { ...mapped.careTeam, at: 'careTeam' } } : {}),
    }),
  );
}
