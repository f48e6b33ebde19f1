import type { Bundle, CarePlan, CareTeam, Goal } from '@medplum/fhirtypes';
import { FhirError, type Issue } from '../fhir/outcomes.ts';
import { bundleEnvelopeIssues, requireShape } from '../fhir/shape.ts';
import type { CarePlanInput } from './care-plan-rules.ts';

/** Reads a care plan Bundle (CarePlan with its Goals and CareTeam, as a transaction) into an input. */
export function carePlanInputFromBundle(bundle: Bundle): CarePlanInput {
  const envelope = bundleEnvelopeIssues(bundle);
  if (envelope.length) throw new FhirError('malformed', envelope);
  const entries = bundle.entry ?? [];
  const planIndex = entries.findIndex((e) => e.resource?.resourceType === 'CarePlan');
  const issues: Issue[] = [];
  const goals: CarePlanInput['goals'] = [];
  let careTeam: CarePlanInput['careTeam'];
  for (const [i, entry] of entries.entries()) {
    const at = `Bundle.entry[${i}].resource`;
    const type = entry.resource?.resourceType;
    const sent = { ...(entry.fullUrl ? { fullUrl: entry.fullUrl } : {}), at };
    if (entry.request?.method !== 'POST') {
      issues.push({
        code: 'structure',
        diagnostics: 'Entries are created (POST)',
        expression: [`Bundle.entry[${i}].request`],
      });
    }
    // A referral has one open care plan (a second answers 409), so nothing here is conditional:
    // a condition would be ignored, so it is refused instead.
    if (entry.request?.ifNoneExist !== undefined) {
      issues.push({
        code: 'not-supported',
        diagnostics:
          'ifNoneExist is not supported in a care plan Bundle; to create a care plan only if none matches, POST it to /fhir/CarePlan with If-None-Exist',
        expression: [`Bundle.entry[${i}].request.ifNoneExist`],
      });
    }
    if (i === planIndex) continue;
    if (type === 'Goal') goals.push({ ...sent, resource: entry.resource as Goal });
    else if (type === 'CareTeam' && !careTeam) careTeam = { ...sent, resource: entry.resource as CareTeam };
    else {
      issues.push({
        code: 'structure',
        diagnostics: 'A care plan Bundle holds one CarePlan, its Goals and at most one CareTeam',
        expression: [at],
      });
    }
  }
  if (planIndex < 0) {
    issues.push({
      code: 'required',
      diagnostics: 'The Bundle holds no CarePlan',
      expression: ['Bundle.entry'],
    });
  }
  if (issues.length) throw new FhirError('malformed', issues);
  for (const [i, entry] of entries.entries()) {
    if (entry.resource) requireShape(entry.resource, `Bundle.entry[${i}].resource`);
  }
  return {
    carePlan: entries[planIndex]?.resource as CarePlan,
    at: `Bundle.entry[${planIndex}].resource`,
    goals,
    ...(careTeam ? { careTeam } : {}),
  };
}
