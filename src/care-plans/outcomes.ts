import type {
  CarePlan,
  OperationDefinition,
  Parameters,
  ParametersParameter,
  Questionnaire,
  QuestionnaireResponse,
  Reference,
  ServiceRequest,
} from '@medplum/fhirtypes';
import * as z from 'zod';
import ons4 from '../../terminology/Questionnaire-ons4-personal-wellbeing.json' with { type: 'json' };
import swemwbs from '../../terminology/Questionnaire-swemwbs.json' with { type: 'json' };
import { agentOf, authorize, type RequestContext } from '../auth/principal.ts';
import {
  isVisible,
  noteDisclosures,
  scopedQuery,
  seenOnlyAsTeamMember,
  teamSharesOf,
  visibleEntries,
  withAccess,
  withTeamShares,
} from '../auth/tenancy.ts';
import { byInstant } from '../fhir/dates.ts';
import { Failures, FhirError, type Issue, invalidBody } from '../fhir/outcomes.ts';
import { requireShape } from '../fhir/shape.ts';
import { CANONICAL_BASE, OWN_SYSTEM } from '../fhir/systems.ts';
import { toProvenance } from '../mapping/to-provenance.ts';
import { StoreError } from '../medplum/errors.ts';
import { type FhirStore, readIfExists } from '../medplum/store.ts';
import { requireReceiver } from '../workflow/referral-record.ts';
import { referralOf } from './care-plan-rules.ts';
import { referralNamed } from './plan-referral.ts';
import { sameShares } from './team-sharing-rules.ts';

/** The wellbeing measures the service records, as Questionnaires it serves. */
export const QUESTIONNAIRES: readonly Questionnaire[] = [ons4 as Questionnaire, swemwbs as Questionnaire];

interface Measure {
  questionnaire: Questionnaire;
  min: number;
  max: number;
  /** The scores reported: each item (ONS4) or the total (SWEMWBS). */
  scores: 'items' | 'total';
}

const MEASURES: ReadonlyMap<string, Measure> = new Map(
  QUESTIONNAIRES.map((q) => {
    const bounds = q.item?.[0]?.extension ?? [];
    const bound = (name: string) => bounds.find((e) => e.url.endsWith(name))?.valueInteger as number;
    return [
      q.url as string,
      {
        questionnaire: q,
        min: bound('minValue'),
        max: bound('maxValue'),
        scores: q.id === 'swemwbs' ? 'total' : 'items',
      },
    ];
  }),
);

export interface OutcomeDeps {
  store: FhirStore;
  clock: () => Date;
}

/**
 * Records a wellbeing measure (a completed QuestionnaireResponse to one of the served
 * Questionnaires) against a care plan: every item answered once, within the scale. Written by
 * the service that keeps the plan, with a Provenance, visible to the same organisations.
 */
export async function recordOutcome(
  deps: OutcomeDeps,
  ctx: RequestContext,
  body: unknown,
): Promise<QuestionnaireResponse> {
  authorize(ctx.principal, 'QuestionnaireResponse', 'c');
  const response = body as QuestionnaireResponse;
  if (response?.resourceType !== 'QuestionnaireResponse') {
    throw new FhirError('malformed', [
      { code: 'structure', diagnostics: 'Expected a QuestionnaireResponse', expression: ['resourceType'] },
    ]);
  }
  requireShape(response);
  const issues: Issue[] = [];
  const measure = MEASURES.get(response.questionnaire?.split('|')[0] ?? '');
  if (!measure) {
    issues.push({
      code: 'code-invalid',
      diagnostics: `questionnaire must be one of ${[...MEASURES.keys()].join(', ')}`,
      expression: ['QuestionnaireResponse.questionnaire'],
    });
  }
  if (response.status !== 'completed') {
    issues.push({
      code: 'value',
      diagnostics: 'A recorded measure is completed',
      expression: ['QuestionnaireResponse.status'],
    });
  }
  const planRef = response.basedOn?.length === 1 ? response.basedOn[0]?.reference : undefined;
  if (!planRef || !/^CarePlan\/[^/]+$/.test(planRef)) {
    issues.push({
      code: 'required',
      diagnostics: 'A measure is recorded against one care plan (basedOn: CarePlan/{id})',
      expression: ['QuestionnaireResponse.basedOn'],
    });
  }
  if (measure) issues.push(...answerIssues(measure, response));
  if (issues.length) throw new FhirError('invalid', issues);

  const plan = await readIfExists<CarePlan>(
    deps.store,
    'CarePlan',
    (planRef as string).split('/')[1] as string,
  );
  if (!plan || !isVisible(ctx.principal, plan)) {
    throw new FhirError('invalid', [
      {
        code: 'not-found',
        diagnostics: 'basedOn does not name a care plan stored here',
        expression: ['QuestionnaireResponse.basedOn[0]'],
      },
    ]);
  }
  if (seenOnlyAsTeamMember(ctx.principal, plan)) {
    throw new FhirError('forbidden', [
      { code: 'forbidden', diagnostics: 'Only the service keeping the care plan records its measures' },
    ]);
  }
  await requirePlanKeeper(deps.store, ctx, plan);
  if (response.subject && response.subject.reference !== plan.subject.reference) {
    throw new FhirError('invalid', [
      {
        code: 'invariant',
        diagnostics: 'The measure is about the care plan’s person',
        expression: ['QuestionnaireResponse.subject'],
      },
    ]);
  }
  const access = (plan.meta?.security ?? []).filter((c) => c.system === OWN_SYSTEM.organisationAccess);
  const now = deps.clock().toISOString();
  const { id: _id, meta: _meta, ...content } = response;
  // Shared with the person's care team as the plan is, on the same consent.
  const toWrite = withTeamShares(
    withAccess(
      { ...content, subject: plan.subject as Reference, authored: response.authored ?? now },
      access.map((c) => c.code as string),
    ),
    teamSharesOf(plan),
  );
  const provenance = toProvenance({
    targets: [{ reference: 'urn:uuid:outcome' }],
    recorded: now,
    agent: agentOf(ctx),
    requestId: ctx.requestId,
    activity: 'CREATE',
  });
  const written = await deps.store.bundle({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: 'urn:uuid:outcome',
        resource: toWrite,
        request: { method: 'POST', url: 'QuestionnaireResponse' },
      },
      {
        resource: { ...provenance, meta: { security: access } },
        request: { method: 'POST', url: 'Provenance' },
      },
    ],
  });
  const stored = written.entry?.[0]?.resource as QuestionnaireResponse | undefined;
  if (!stored?.id) {
    throw new FhirError('incomplete-write', [
      { code: 'exception', diagnostics: 'The FHIR store did not store the measure' },
    ]);
  }
  ctx.touched.push(`QuestionnaireResponse/${stored.id}`, planRef as string);
  return alignWithPlan(deps.store, plan.id as string, stored);
}

/**
 * The measure's care-team sharing made the plan's again, read after the measure is stored: a
 * consent or team change written meanwhile rewrote the plan's parts without it. A rewrite that
 * overtakes this one (412) has the measure among the parts, so it is read again and checked.
 */
async function alignWithPlan(
  store: FhirStore,
  planId: string,
  measure: QuestionnaireResponse,
): Promise<QuestionnaireResponse> {
  let current = measure;
  for (let attempt = 1; ; attempt++) {
    const plan = await store.read<CarePlan>('CarePlan', planId);
    const shares = teamSharesOf(plan);
    if (sameShares(teamSharesOf(current), shares)) return current;
    try {
      return await store.update(withTeamShares(current, shares), {
        ifMatchVersion: current.meta?.versionId as string,
      });
    } catch (err) {
      if (!(err instanceof StoreError) || err.refusal !== 'precondition-failed' || attempt >= 3) throw err;
      current = await store.read<QuestionnaireResponse>('QuestionnaireResponse', current.id as string);
    }
  }
}

function answerIssues(measure: Measure, response: QuestionnaireResponse): Issue[] {
  const issues: Issue[] = [];
  const known = new Set((measure.questionnaire.item ?? []).map((i) => i.linkId));
  const given = new Map<string, number>();
  for (const [i, item] of (response.item ?? []).entries()) {
    const path = `QuestionnaireResponse.item[${i}]`;
    const value = item.answer?.length === 1 ? item.answer[0]?.valueInteger : undefined;
    if (!known.has(item.linkId)) {
      issues.push({
        code: 'value',
        diagnostics: `No item ${item.linkId} in this measure`,
        expression: [`${path}.linkId`],
      });
    } else if (given.has(item.linkId)) {
      issues.push({ code: 'value', diagnostics: `Item ${item.linkId} answered twice`, expression: [path] });
    } else if (
      value === undefined ||
      !Number.isInteger(value) ||
      value < measure.min ||
      value > measure.max
    ) {
      issues.push({
        code: 'value',
        diagnostics: `Each answer is one whole number from ${measure.min} to ${measure.max}`,
        expression: [`${path}.answer`],
      });
    } else {
      given.set(item.linkId, value);
    }
  }
  for (const linkId of known) {
    if (!given.has(linkId) && !(response.item ?? []).some((i) => i.linkId === linkId)) {
      issues.push({
        code: 'required',
        diagnostics: `Item ${linkId} is not answered`,
        expression: ['QuestionnaireResponse.item'],
      });
    }
  }
  return issues;
}

async function requirePlanKeeper(store: FhirStore, ctx: RequestContext, plan: CarePlan): Promise<void> {
  if (ctx.principal.organization === undefined) return;
  const { task } = await referralNamed(
    store,
    ctx,
    referralOf(plan) ?? '',
    'QuestionnaireResponse.basedOn[0]',
  );
  await requireReceiver(store, ctx, task, 'Only the service keeping the care plan records its outcomes');
}

/**
 * `GET /fhir/CarePlan/{id}/$outcomes`: for each measure recorded against the plan, the baseline
 * (first recorded), the latest and the change, per item (ONS4) or as the total (SWEMWBS).
 */
export async function carePlanOutcomes(
  store: FhirStore,
  ctx: RequestContext,
  carePlanId: string,
): Promise<Parameters> {
  authorize(ctx.principal, 'CarePlan', 'r');
  authorize(ctx.principal, 'QuestionnaireResponse', 's');
  const plan = await readIfExists<CarePlan>(store, 'CarePlan', carePlanId);
  if (!plan || !isVisible(ctx.principal, plan)) throw Failures.notFound();
  const query = new URLSearchParams({ 'based-on': `CarePlan/${carePlanId}`, _count: '100' });
  const found = visibleEntries(
    ctx.principal,
    await store.search('QuestionnaireResponse', scopedQuery(ctx.principal, 'QuestionnaireResponse', query)),
  );
  const responses = (found.entry ?? [])
    .map((e) => e.resource as QuestionnaireResponse)
    .sort((a, b) => byInstant(a.authored, b.authored));
  ctx.touched.push(`CarePlan/${carePlanId}`, ...responses.map((r) => `QuestionnaireResponse/${r.id}`));
  noteDisclosures(ctx, [plan, ...responses]);
  const parameter: ParametersParameter[] = [];
  for (const [url, measure] of MEASURES) {
    const recorded = responses.filter((r) => r.questionnaire?.split('|')[0] === url);
    const baseline = recorded[0];
    const latest = recorded.at(-1);
    if (!baseline || !latest) continue;
    const scores =
      measure.scores === 'total' ? ['total'] : (measure.questionnaire.item ?? []).map((i) => i.linkId);
    for (const score of scores) {
      const b = scoreOf(baseline, score);
      const l = scoreOf(latest, score);
      parameter.push({
        name: 'outcome',
        part: [
          { name: 'questionnaire', valueCanonical: url },
          { name: 'score', valueString: score },
          { name: 'baseline', valueInteger: b },
          { name: 'baselineDate', valueDateTime: baseline.authored as string },
          { name: 'baselineResponse', valueReference: { reference: `QuestionnaireResponse/${baseline.id}` } },
          { name: 'latest', valueInteger: l },
          { name: 'latestDate', valueDateTime: latest.authored as string },
          { name: 'latestResponse', valueReference: { reference: `QuestionnaireResponse/${latest.id}` } },
          { name: 'change', valueInteger: l - b },
          { name: 'responses', valueInteger: recorded.length },
        ],
      });
    }
  }
  // FHIR JSON has no empty arrays: a plan with no outcomes yet answers Parameters without any.
  return { resourceType: 'Parameters', ...(parameter.length ? { parameter } : {}) };
}

function scoreOf(response: QuestionnaireResponse, score: string): number {
  const values = (response.item ?? []).map((i) => ({
    linkId: i.linkId,
    value: i.answer?.[0]?.valueInteger ?? 0,
  }));
  return score === 'total'
    ? values.reduce((sum, v) => sum + v.value, 0)
    : (values.find((v) => v.linkId === score)?.value ?? 0);
}

const OutcomeJson = z
  .object({
    measure: z.enum(['ons4-personal-wellbeing', 'swemwbs']),
    /** Answers by item linkId, e.g. `{ "life-satisfaction": 6, ... }`. */
    answers: z.record(z.string(), z.number().int()),
    authored: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

/** `POST /referrals/{id}/outcomes`: a measure in plain JSON, recorded against the referral's current care plan. */
export async function recordOutcomeFromJson(
  deps: OutcomeDeps,
  ctx: RequestContext,
  serviceRequestId: string,
  body: unknown,
): Promise<QuestionnaireResponse> {
  authorize(ctx.principal, 'QuestionnaireResponse', 'c');
  const parsed = OutcomeJson.safeParse(body);
  if (!parsed.success) throw invalidBody(parsed.error);
  const referral = await readIfExists<ServiceRequest>(deps.store, 'ServiceRequest', serviceRequestId);
  if (!referral || !isVisible(ctx.principal, referral)) throw Failures.notFound();
  const plans = await deps.store.search('CarePlan', {
    patient: referral.subject?.reference ?? '',
    _sort: '-_lastUpdated',
    _count: '100',
  });
  const plan = (plans.entry ?? [])
    .map((e) => e.resource as CarePlan)
    .find((p) => referralOf(p) === `ServiceRequest/${serviceRequestId}`);
  if (!plan) {
    throw new FhirError('conflict', [
      { code: 'business-rule', diagnostics: 'The referral has no care plan to record the measure against' },
    ]);
  }
  const measure = QUESTIONNAIRES.find((q) => q.id === parsed.data.measure) as Questionnaire;
  return recordOutcome(deps, ctx, {
    resourceType: 'QuestionnaireResponse',
    questionnaire: measure.url,
    status: 'completed',
    basedOn: [{ reference: `CarePlan/${plan.id}` }],
    ...(parsed.data.authored ? { authored: parsed.data.authored } : {}),
    item: Object.entries(parsed.data.answers).map(([linkId, value]) => ({
      linkId,
      answer: [{ valueInteger: value }],
    })),
  } satisfies QuestionnaireResponse);
}

/** The `$outcomes` operation's definition, served at `/fhir/OperationDefinition/care-plan-outcomes`. */
export const OUTCOMES_DEFINITION = {
  resourceType: 'OperationDefinition',
  id: 'care-plan-outcomes',
  url: `${CANONICAL_BASE}/OperationDefinition/care-plan-outcomes`,
  version: '0.1.0',
  name: 'CarePlanOutcomes',
  title: 'Wellbeing outcomes of a care plan',
  status: 'active',
  kind: 'operation',
  affectsState: false,
  code: 'outcomes',
  resource: ['CarePlan'],
  system: false,
  type: false,
  instance: true,
  description:
    'For each wellbeing measure recorded against the care plan (ONS4 personal wellbeing per item, SWEMWBS as its total): the baseline (first recorded), the latest, and the change.',
  parameter: [{ name: 'return', use: 'out', min: 1, max: '1', type: 'Parameters' }],
} as const satisfies OperationDefinition;
