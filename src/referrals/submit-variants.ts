import type { Bundle, BundleEntry, Resource, ServiceRequest } from '@medplum/fhirtypes';
import type { RequestContext } from '../auth/principal.ts';
import { FhirError, invalidBody, withExpressionsAs } from '../fhir/outcomes.ts';
import { requireShape } from '../fhir/shape.ts';
import { JSON_ENTRY_ROOTS, referralJsonToBundle } from '../mapping/referral-json-to-bundle.ts';
import { ReferralJsonSchema } from '../schemas/referral-json.ts';
import { checkReferralBundle, type IntakeDeps, type IntakeResult, submitReferral } from './intake.ts';
import type { ReferralBundle } from './referral-bundle.ts';
import { forEachReference } from './rules.ts';

/** Contained resources a single ServiceRequest may carry (its consent, reasons, baseline answers). */
const CONTAINABLE = ['Consent', 'Condition', 'QuestionnaireResponse'];

/**
 * `POST /fhir/ServiceRequest`: one referral whose subject, requester and performer are references
 * or identifiers of stored resources; a contained Consent (or other containable resource) is
 * stored alongside it.
 */
export async function submitServiceRequest(
  deps: IntakeDeps,
  body: unknown,
  ctx: RequestContext,
): Promise<IntakeResult> {
  const sr = body as ServiceRequest;
  if (sr?.resourceType !== 'ServiceRequest') {
    throw new FhirError('malformed', [
      { code: 'structure', diagnostics: 'Expected a ServiceRequest', expression: ['resourceType'] },
    ]);
  }
  requireShape(sr);
  const { contained = [], ...rest } = sr;
  const urnOf = new Map<string, string>();
  const extracted: BundleEntry[] = [];
  const roots: string[] = ['ServiceRequest'];
  contained.forEach((resource: Resource, i) => {
    if (!CONTAINABLE.includes(resource.resourceType) || !resource.id) return;
    const urn = `urn:uuid:${deps.newId()}`;
    urnOf.set(`#${resource.id}`, urn);
    const { id: _id, ...content } = resource;
    extracted.push({
      fullUrl: urn,
      resource: content as Resource,
      request: { method: 'POST', url: resource.resourceType },
    });
    roots.push(`ServiceRequest.contained[${i}]`);
  });
  const kept = contained.filter((r) => !urnOf.has(`#${r.id}`));
  const primary = { ...rest, ...(kept.length ? { contained: kept } : {}) } as ServiceRequest;
  const entries: BundleEntry[] = [
    { resource: primary, request: { method: 'POST', url: 'ServiceRequest' } },
    ...extracted,
  ];
  for (const entry of entries) {
    forEachReference(entry.resource, (ref) => {
      const urn = ref.reference ? urnOf.get(ref.reference) : undefined;
      if (urn) ref.reference = urn;
    });
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: entries };
  return withExpressionRoots(roots, () => submitReferral(deps, bundle, ctx));
}

/** `POST /referrals`: the plain JSON referral, validated with zod, then the same intake. */
export async function submitJsonReferral(
  deps: IntakeDeps,
  body: unknown,
  ctx: RequestContext,
): Promise<IntakeResult> {
  const parsed = ReferralJsonSchema.safeParse(body);
  if (!parsed.success) throw invalidBody(parsed.error);
  // The sender is the client's organisation: its ODS code identifies the referrer's organisation
  // when the form leaves it out (and the intake refuses one that names another organisation).
  const json = parsed.data;
  const organization = ctx.principal.organization;
  if (organization && !json.referrer.organisation.odsCode) json.referrer.organisation.odsCode = organization;
  const bundle = referralJsonToBundle(json, deps.clock(), deps.newId);
  return withExpressionRoots([...JSON_ENTRY_ROOTS], () => submitReferral(deps, bundle, ctx), toJsonPath);
}

/**
 * The checks of `POST /referrals` made before anything is looked up (the schema, then the mapped
 * Bundle's), with errors named as the JSON sender knows them; the referral as mapped.
 */
export async function checkJsonReferral(
  deps: Pick<IntakeDeps, 'clock' | 'newId'>,
  body: unknown,
  ctx: RequestContext,
): Promise<ReferralBundle> {
  const parsed = ReferralJsonSchema.safeParse(body);
  if (!parsed.success) throw invalidBody(parsed.error);
  const json = parsed.data;
  const organization = ctx.principal.organization;
  if (organization && !json.referrer.organisation.odsCode) json.referrer.organisation.odsCode = organization;
  const bundle = referralJsonToBundle(json, deps.clock(), deps.newId);
  return withExpressionRoots(
    [...JSON_ENTRY_ROOTS],
    async () => checkReferralBundle(bundle, deps.clock()),
    toJsonPath,
  );
}

/** FHIR paths of the mapped ServiceRequest that a JSON sender knows by other names. */
const JSON_ALIASES: [RegExp, string][] = [
  [/^performer\[0\].*/, 'receivingServiceOdsCode'],
  [/^reasonCode\[(\d+)\].*/, 'reasons[$1].snomedCode'],
  [/^identifier.*/, 'referralId'],
  [/^authoredOn$/, 'authoredOn'],
];

function toJsonPath(expression: string): string {
  for (const [pattern, alias] of JSON_ALIASES)
    if (pattern.test(expression)) return expression.replace(pattern, alias);
  return expression;
}

/** Re-roots `Bundle.entry[i].resource` expressions onto what the caller actually sent. */
function withExpressionRoots<T>(
  roots: readonly string[],
  fn: () => Promise<T>,
  alias: (expression: string) => string = (e) => e,
): Promise<T> {
  return withExpressionsAs((e) => alias(reroot(e, roots)), fn);
}

function reroot(expression: string, roots: readonly string[]): string {
  const match = expression.match(/^Bundle\.entry\[(\d+)\]\.resource\.?(.*)$/);
  const root = match ? roots[Number(match[1])] : undefined;
  if (!match || root === undefined) return expression;
  return [root, match[2]].filter(Boolean).join('.');
}
