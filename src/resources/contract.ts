import type {
  Bundle,
  CodeSystem,
  OperationDefinition,
  OperationOutcome,
  Parameters,
  Resource,
  StructureDefinition,
  ValueSet,
} from '@medplum/fhirtypes';
import operationDefinitions from '../fhir/definitions/operation-definitions.json' with { type: 'json' };
import { Failures, FhirError, type Issue, operationOutcome } from '../fhir/outcomes.ts';
import { pagingParam } from '../fhir/paging.ts';
import { checkAgainstProfile, PROFILE_OF, PROFILES } from '../fhir/profiles.ts';
import { type PublishedProfileSource, publishedProfileFile } from '../fhir/published-profiles.ts';
import { isReadableResourceType } from '../fhir/resource-types.ts';
import { CODE_SYSTEMS, type ExpandedConcept, expand, VALUE_SETS } from '../fhir/terminology.ts';

/** The standard operations the contract serves ($validate, $expand, $validate-code), as served. */
export const CONTRACT_OPERATIONS: readonly OperationDefinition[] = (operationDefinitions.entry ?? []).map(
  (e) => e.resource as OperationDefinition,
);

/** The published contract: value sets and code systems, by id. */
export function readDefinition(type: 'ValueSet' | 'CodeSystem', id: string): Resource {
  const all: readonly (ValueSet | CodeSystem)[] = type === 'ValueSet' ? VALUE_SETS : CODE_SYSTEMS;
  const found = all.find((r) => r.id === id);
  if (!found) throw Failures.notFound();
  return found;
}

/** The conformance types searched by canonical URL (`url`, their one search parameter). */
export type ContractSearchType = 'StructureDefinition' | 'ValueSet' | 'CodeSystem';
/** Parameters that shape the HTTP answer, not the search. */
const RESPONSE_ONLY = ['_format', '_pretty'];
/** Paging, as on every search. */
const PAGING = ['_count', '_offset'];
/** Page size when none is asked for, and the most one page holds: as for the store's searches. */
const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;

/**
 * `GET /fhir/{ValueSet|CodeSystem|StructureDefinition}?url=<canonical>[|version]`: a searchset of
 * what is published (all of it without `url`), empty when nothing matches. Comma-separated values
 * are alternatives, repeated parameters must all hold, as for any FHIR search.
 */
export async function searchContract(
  type: ContractSearchType,
  params: URLSearchParams,
  baseUrl: string,
  published: PublishedProfileSource,
): Promise<Bundle> {
  for (const key of params.keys()) {
    if (key !== 'url' && !RESPONSE_ONLY.includes(key) && !PAGING.includes(key)) {
      throw Failures.badRequest(`Search parameter ${key} is not supported for ${type}`, [key]);
    }
  }
  const all: readonly { id?: string; url?: string; version?: string }[] =
    type === 'ValueSet' ? VALUE_SETS : type === 'CodeSystem' ? CODE_SYSTEMS : PROFILES;
  const named = (r: { url?: string; version?: string }, canonical: string) => {
    const [url, version] = canonical.split('|');
    return r.url === url && (version === undefined || r.version === version);
  };
  const matches = all.filter((r) =>
    params.getAll('url').every((value) => value.split(',').some((canonical) => named(r, canonical))),
  );
  const count = Math.min(pagingParam(params, '_count', DEFAULT_PAGE), MAX_PAGE);
  const offset = pagingParam(params, '_offset', 0);
  const page = matches.slice(offset, offset + count);
  const resources =
    type === 'StructureDefinition'
      ? await Promise.all(page.map((sd) => readProfile(sd.id as string, published)))
      : (page as Resource[]);
  const link = (at: number) => {
    const query = new URLSearchParams([...params].filter(([key]) => key === 'url'));
    query.set('_count', String(count));
    if (at > 0) query.set('_offset', String(at));
    return `${baseUrl}/fhir/${type}?${query}`;
  };
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: matches.length,
    link: [
      { relation: 'self', url: link(offset) },
      ...(offset + count < matches.length && count > 0
        ? [{ relation: 'next', url: link(offset + count) }]
        : []),
    ],
    entry: resources.map((resource) => ({
      fullUrl: `${baseUrl}/fhir/${type}/${resource.id}`,
      resource,
      search: { mode: 'match' },
    })),
  };
}

/**
 * A profile as published (full, with its differential and snapshot), by id; the slim copy the
 * service enforces (same url and version) when the published file is not there.
 */
export async function readProfile(
  id: string,
  published: PublishedProfileSource,
): Promise<StructureDefinition> {
  const slim = PROFILES.find((sd) => sd.id === id);
  if (!slim) throw Failures.notFound();
  const full = await published(publishedProfileFile(id));
  return full?.url === slim.url ? full : slim;
}

function valueSetByUrl(url: string | undefined): ValueSet {
  if (!url) throw Failures.badRequest('The value set is named by url', ['url']);
  const [canonical, version] = url.split('|');
  const found = VALUE_SETS.find((vs) => vs.url === canonical && (!version || vs.version === version));
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

/** The value set's concepts, or why they cannot be listed here. */
function expansionOf(valueSet: ValueSet): ExpandedConcept[] {
  const concepts = expand(valueSet);
  if (concepts) return concepts;
  throw new FhirError('invalid', [
    {
      code: 'not-supported',
      diagnostics: `${valueSet.url} draws on a code system by filter or in full (SNOMED CT, LOINC, ...); it is published here but can only be expanded by a terminology server`,
    },
  ]);
}

/** `ValueSet/$expand?url=...` (or on an id): the value set with its whole expansion. */
export function expandValueSet(params: { url?: string; id?: string }, now: Date): ValueSet {
  const valueSet = params.id
    ? (readDefinition('ValueSet', params.id) as ValueSet)
    : valueSetByUrl(params.url);
  const contains = expansionOf(valueSet);
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
  const concept = expansionOf(valueSet).find(
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
