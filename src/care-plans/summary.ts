import type {
  Bundle,
  BundleEntry,
  OperationDefinition,
  Patient,
  Resource,
  ResourceType,
} from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { allows } from '../auth/scopes.ts';
import { isVisible, noteDisclosures, scopedQuery, visibleEntries } from '../auth/tenancy.ts';
import { Failures } from '../fhir/outcomes.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import { CANONICAL_BASE } from '../fhir/systems.ts';
import { type FhirStore, readIfExists, searchAll } from '../medplum/store.ts';

export const SUMMARY_OPERATION = 'social-prescribing-summary';

/** What the summary gathers for a person, and by which search parameter each type points at them. */
const PARTS: [ResourceType, string][] = [
  ['ServiceRequest', 'subject'],
  ['Task', 'patient'],
  ['CarePlan', 'subject'],
  ['Goal', 'subject'],
  ['CareTeam', 'subject'],
  ['Consent', 'patient'],
  ['QuestionnaireResponse', 'subject'],
];

const MAX_PER_PART = 100;

/**
 * `GET /fhir/Patient/{id}/$social-prescribing-summary`: everything a care-plan viewer needs about
 * one person, in one Bundle: the Patient, their referrals and the Tasks tracking them, care
 * plans and the services they name, goals, care team, consents and outcome questionnaires. Only what the caller may see:
 * each part goes through the same tenancy narrowing as a search, and parts the token's scopes do
 * not grant reading are left out.
 */
export async function socialPrescribingSummary(
  store: FhirStore,
  ctx: RequestContext,
  patientId: string,
  /** The facade's base URL, under which each entry's fullUrl lies. */
  baseUrl: string,
): Promise<Bundle> {
  authorize(ctx.principal, 'Patient', 'r');
  const patient = await readIfExists<Patient>(store, 'Patient', patientId);
  if (!patient || !isVisible(ctx.principal, patient)) {
    throw Failures.notFound();
  }
  const resources: Resource[] = [patient];
  const parts = PARTS.filter(([type]) => allows(ctx.principal.scopes, type, 'r'));
  // Every part in one round trip, each narrowed to what the caller may see.
  const found = await searchAll(
    store,
    parts.map(([type, param]) => {
      const query = new URLSearchParams({ [param]: `Patient/${patientId}`, _count: String(MAX_PER_PART) });
      // The community services the plans connect the person to, in the same search.
      if (type === 'CarePlan' && allows(ctx.principal.scopes, 'HealthcareService', 'r'))
        query.set('_include', 'CarePlan:performer');
      return { type, query: Object.fromEntries(scopedQuery(ctx.principal, type, query)) };
    }),
  );
  const seen = new Set([`Patient/${patient.id}`]);
  for (const bundle of found) {
    const visible = visibleEntries(ctx.principal, bundle);
    for (const { resource, search } of visible.entry ?? []) {
      const key = `${resource?.resourceType}/${resource?.id}`;
      // Of what a plan's activities name, the services only (the people are parts of their own).
      if (!resource || seen.has(key)) continue;
      if (search?.mode === 'include' && resource.resourceType !== 'HealthcareService') continue;
      seen.add(key);
      resources.push(resource);
    }
  }
  ctx.touched.push(...resources.map((r) => `${r.resourceType}/${r.id}`));
  noteDisclosures(ctx, resources);
  const entry: BundleEntry[] = resources.map((r) => ({
    fullUrl: `${baseUrl}/fhir/${r.resourceType}/${r.id}`,
    resource: toPublicResource(r),
  }));
  return { resourceType: 'Bundle', type: 'collection', timestamp: new Date().toISOString(), entry };
}

/** The operation's definition, served at `/fhir/OperationDefinition/social-prescribing-summary`. */
export const SUMMARY_DEFINITION: OperationDefinition = {
  resourceType: 'OperationDefinition',
  id: SUMMARY_OPERATION,
  url: `${CANONICAL_BASE}/OperationDefinition/${SUMMARY_OPERATION}`,
  version: '0.1.0',
  name: 'SocialPrescribingSummary',
  title: 'Social prescribing summary of a person',
  status: 'active',
  kind: 'operation',
  affectsState: false,
  code: SUMMARY_OPERATION,
  resource: ['Patient'],
  system: false,
  type: false,
  instance: true,
  description:
    'Everything a care-plan viewer needs about one person, in one Bundle: the Patient, their social prescribing referrals (ServiceRequest) with the Tasks tracking them, care plans with the community services (HealthcareService) their activities connect the person to, goals, care team, consents and outcome questionnaires (QuestionnaireResponse). Only resources the caller may see are included.',
  parameter: [
    {
      name: 'return',
      use: 'out',
      min: 1,
      max: '1',
      type: 'Bundle',
      documentation: 'A collection Bundle, the Patient first.',
    },
  ],
};
