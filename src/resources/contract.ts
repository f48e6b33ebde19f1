import type {
  CodeSystem,
  OperationOutcome,
  Parameters,
  Resource,
  StructureDefinition,
  ValueSet,
} from '@medplum/fhirtypes';
import { Failures, FhirError, type Issue, operationOutcome } from '../fhir/outcomes.ts';
import { checkAgainstProfile, PROFILE_OF, PROFILES } from '../fhir/profiles.ts';
import { publishedProfile } from '../fhir/published-profiles.ts';
import { isReadableResourceType } from '../fhir/resource-types.ts';
import { CODE_SYSTEMS, expand, VALUE_SETS } from '../fhir/terminology.ts';

/** The published contract: profiles, value sets and code systems, by id. */
export function readDefinition(type: 'ValueSet' | 'CodeSystem', id: string): Resource {
  const all: readonly (ValueSet | CodeSystem)[] = type === 'ValueSet' ? VALUE_SETS : CODE_SYSTEMS;
  const found = all.find((r) => r.id === id);
  if (!found) throw Failures.notFound();
  return found;
}

/** A profile as published (full, with its differential and snapshot), by id. */
export async function readProfile(id: string): Promise<StructureDefinition> {
  const found = await publishedProfile(id);
  if (!found) throw Failures.notFound();
  return found;
}

function valueSetByUrl(url: string | undefined): ValueSet {
  if (!url) throw Failures.badRequest('The value set is named by url', ['url']);
  const found = VALUE_SETS.find((vs) => vs.url === url.split('|')[0]);
  if (!found) {
    throw new FhirError('not-found', [
      {
        code: 'not-found',
        diagnostics: 'This server publishes no value set with that url',
        expression: ['url'],
      },
    ]);
  }
  return found;
}

/** `ValueSet/$expand?url=...` (or on an id): the value set with its whole expansion. */
export function expandValueSet(params: { url?: string; id?: string }, now: Date): ValueSet {
  const valueSet = params.id
    ? (readDefinition('ValueSet', params.id) as ValueSet)
    : valueSetByUrl(params.url);
  const contains = expand(valueSet);
  return {
    ...valueSet,
    expansion: {
      identifier: `urn:uuid:${crypto.randomUUID()}`,
      timestamp: now.toISOString(),
      total: contains.length,
      contains,
    },
  };
}

/**
 * `ValueSet/$validate-code`: whether a code (with its system, or as a Coding) is in a published
 * value set, with its display; a display that differs is a message, not a failure of the code.
 */
export function validateCode(params: {
  url?: string;
  system?: string;
  code?: string;
  display?: string;
}): Parameters {
  const valueSet = valueSetByUrl(params.url);
  if (!params.code) throw Failures.badRequest('code is required', ['code']);
  const concept = expand(valueSet).find(
    (c) => c.code === params.code && (params.system === undefined || c.system === params.system),
  );
  const parameter: Parameters['parameter'] = [{ name: 'result', valueBoolean: Boolean(concept) }];
  if (concept?.display) parameter.push({ name: 'display', valueString: concept.display });
  if (!concept) {
    parameter.push({ name: 'message', valueString: `The code is not in ${valueSet.url}` });
  } else if (params.display && concept.display && params.display !== concept.display) {
    parameter.push({ name: 'message', valueString: `The display for this code is "${concept.display}"` });
  }
  return { resourceType: 'Parameters', parameter };
}

/**
 * `POST /fhir/{type}/$validate`: the resource checked as if it were being stored (base R4, the
 * type's profile or a named one of ours, required bindings, the NHS number), nothing stored. The
 * answer lists every issue, warnings included; "no problems" when there are none.
 */
export function validateResource(type: string, body: unknown, profileUrl?: string): OperationOutcome {
  if (!isReadableResourceType(type)) throw Failures.unsupportedType(type);
  let resource = body as Resource | undefined;
  let profile = profileUrl;
  if ((body as Parameters)?.resourceType === 'Parameters') {
    const parameters = (body as Parameters).parameter ?? [];
    resource = parameters.find((p) => p.name === 'resource')?.resource;
    profile ??= parameters.find((p) => p.name === 'profile')?.valueUri ?? undefined;
  }
  if (resource?.resourceType !== type) {
    throw Failures.badRequest(`Expected a ${type} (or Parameters with it as resource)`, ['resourceType']);
  }
  const sd = profile ? PROFILES.find((p) => p.url === profile.split('|')[0]) : PROFILE_OF.get(type);
  if (profile && sd?.type !== type) {
    throw new FhirError('malformed', [
      {
        code: 'not-supported',
        diagnostics: `This server has no ${type} profile ${profile}`,
        expression: ['profile'],
      },
    ]);
  }
  const issues: Issue[] = checkAgainstProfile(resource, sd ? { profile: sd } : {});
  return operationOutcome(
    issues.length
      ? issues
      : [{ severity: 'information', code: 'informational', diagnostics: 'No problems found' }],
  );
}
