import type { Bundle, Identifier } from '@medplum/fhirtypes';
import { normaliseNhsNumber } from '../fhir/nhs-number.ts';
import { FhirError, type Issue } from '../fhir/outcomes.ts';
import { ODS_SYSTEMS, SYSTEM } from '../fhir/systems.ts';
import { parseConditionalCriteria } from '../workflow/conditional-criteria.ts';
import { matchIdentifier } from './identities.ts';
import type { ReferralBundle, ReferralEntry } from './referral-bundle.ts';

/**
 * Checks the sender's `entry.request.ifNoneExist` in a referral Bundle. Intake already creates
 * each part once: people and organisations are matched by an identifier (NHS number, ODS code,
 * SDS or professional number), and the referral by its own identifier within the sender's
 * organisation. A condition that asks for exactly that (`identifier=<system>|<value>` of that
 * identifier) is honoured by it (for the referral, the same identifier with other content stays
 * a 409 duplicate, as without it); any other condition would be ignored, so it is refused, with
 * every problem reported at once. The answer is the same with the condition as without it, so it
 * reveals nothing the referral's own answer does not.
 */
export function entryConditionIssues(bundle: Bundle, referral: ReferralBundle): Issue[] {
  const issues: Issue[] = [];
  for (const entry of referral.entries) {
    const criteria: unknown = bundle.entry?.[entry.index]?.request?.ifNoneExist;
    if (criteria === undefined) continue;
    const at = `Bundle.entry[${entry.index}].request.ifNoneExist`;
    if (typeof criteria !== 'string') {
      issues.push({
        code: 'structure',
        diagnostics: 'ifNoneExist is a string (a search query)',
        expression: [at],
      });
      continue;
    }
    const type = entry.resource.resourceType;
    let query: URLSearchParams;
    try {
      query = parseConditionalCriteria(type, criteria, at);
    } catch (err) {
      if (!(err instanceof FhirError)) throw err;
      issues.push(...issuesOf(err));
      continue;
    }
    const identity = identityOf(entry, referral);
    if (!identity) {
      issues.push({
        code: 'not-supported',
        diagnostics: `A referral's ${type} is created once with the referral (its identifier makes a repeat create nothing), so ifNoneExist is not supported on it`,
        expression: [at],
      });
    } else if (!namesIdentity(query, identity)) {
      issues.push({
        code: 'not-supported',
        diagnostics: `A ${type} is matched by its identifier (system ${identity.system}); ifNoneExist is honoured only as identifier=<that system>|<its value>`,
        expression: [at],
      });
    }
  }
  return issues;
}

function issuesOf(err: FhirError): Issue[] {
  return (err.outcome.issue ?? []).map((issue) => ({
    code: issue.code,
    diagnostics: issue.diagnostics ?? '',
    ...(issue.expression ? { expression: issue.expression } : {}),
  }));
}

/** The identifier intake matches this entry by: its match identifier, or the referral's own. */
function identityOf(entry: ReferralEntry, referral: ReferralBundle): Identifier | undefined {
  if (entry === referral.serviceRequest) {
    return referral.serviceRequest.resource.identifier?.find((i) => i.system && i.value);
  }
  return matchIdentifier(entry.resource);
}

/** Whether the criteria are exactly `identifier=<system>|<value>` of this identifier. */
function namesIdentity(query: URLSearchParams, identity: Identifier): boolean {
  const params = [...query];
  if (params.length !== 1 || params[0]?.[0] !== 'identifier') return false;
  const token = params[0][1];
  const bar = token.indexOf('|');
  if (bar < 0) return false;
  const system = token.slice(0, bar);
  const value = token.slice(bar + 1);
  const sameSystem =
    system === identity.system ||
    (ODS_SYSTEMS.includes(system) && ODS_SYSTEMS.includes(identity.system ?? ''));
  // NHS numbers are matched as ten digits, however they were written.
  const normalise = (v: string) => (identity.system === SYSTEM.nhsNumber ? normaliseNhsNumber(v) : v);
  return sameSystem && normalise(value) === normalise(identity.value ?? '');
}
