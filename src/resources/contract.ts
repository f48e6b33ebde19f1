import { splitSearchOnComma } from '@medplum/core';
import type {
  Bundle,
  BundleEntry,
  CodeSystem,
  OperationDefinition,
  OperationOutcome,
  Parameters,
  Resource,
  StructureDefinition,
  ValueSet,
  ValueSetExpansionParameter,
} from '@medplum/fhirtypes';
import operationDefinitions from '../fhir/definitions/operation-definitions.json' with { type: 'json' };
import { Failures, FhirError, type Issue, operationOutcome } from '../fhir/outcomes.ts';
import { pagingParam } from '../fhir/paging.ts';
import { checkAgainstProfile, PROFILE_OF, PROFILES } from '../fhir/profiles.ts';
import { type PublishedProfileSource, publishedProfileFile } from '../fhir/published-profiles.ts';
import { isReadableResourceType } from '../fhir/resource-types.ts';
import { assertOnlyParams, ignoredParametersNote, RESPONSE_PARAMS } from '../fhir/search-values.ts';
import { CODE_SYSTEMS, type ExpandedConcept, expand, VALUE_SETS } from '../fhir/terminology.ts';
import { validateBaseR4 } from '../fhir/validate.ts';

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
  handling: { lenient?: boolean } = {},
): Promise<Bundle> {
  const all: readonly { id?: string; url?: string; version?: string }[] =
    type === 'ValueSet' ? VALUE_SETS : type === 'CodeSystem' ? CODE_SYSTEMS : PROFILES;
  return searchPublished(type, all as Resource[], params, baseUrl, {
    ...handling,
    ...(type === 'StructureDefinition'
      ? { resolve: (sd) => readProfile(sd.id as string, published) as Promise<Resource> }
      : {}),
  });
}

/**
 * A search by canonical URL of resources the service publishes (not stores): paged, each `url`
 * value a canonical with an optional `|version`. Under `handling=lenient` a parameter other than
 * `url` is left out and said so; otherwise refused.
 */
export async function searchPublished(
  type: string,
  all: readonly Resource[],
  params: URLSearchParams,
  baseUrl: string,
  options: { lenient?: boolean; resolve?: (found: Resource) => Promise<Resource> } = {},
): Promise<Bundle> {
  const ignored: string[] = [];
  for (const key of params.keys()) {
    if (key === 'url' || RESPONSE_PARAMS.includes(key) || PAGING.includes(key) || ignored.includes(key))
      continue;
    if (!options.lenient) {
      throw Failures.badRequest(`Search parameter ${key} is not supported for ${type}`, [key]);
    }
    ignored.push(key);
  }
  const named = (r: Resource, canonical: string) => {
    const [url, version] = canonical.split('|');
    const { url: at, version: as } = r as { url?: string; version?: string };
    return at === url && (version === undefined || as === version);
  };
  const matches = all.filter((r) =>
    params.getAll('url').every((value) => splitSearchOnComma(value).some((canonical) => named(r, canonical))),
  );
  const count = Math.min(pagingParam(params, '_count', DEFAULT_PAGE), MAX_PAGE);
  const offset = pagingParam(params, '_offset', 0);
  const page = matches.slice(offset, offset + count);
  const resources = options.resolve ? await Promise.all(page.map(options.resolve)) : page;
  const link = (at: number) => {
    const query = new URLSearchParams([...params].filter(([key]) => key === 'url'));
    query.set('_count', String(count));
    if (at > 0) query.set('_offset', String(at));
    return `${baseUrl}/fhir/${type}?${query}`;
  };
  const entry: BundleEntry[] = [
    ...resources.map((resource) => ({
      fullUrl: `${baseUrl}/fhir/${type}/${resource.id}`,
      resource,
      search: { mode: 'match' as const },
    })),
    ...(ignored.length ? [ignoredParametersNote(ignored)] : []),
  ];
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
    // FHIR JSON has no empty arrays: a search that finds nothing has no entry at all.
    ...(entry.length ? { entry } : {}),
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

/**
 * An operation's inputs, from the query and from a Parameters body alike: each parameter by name,
 * a primitive by its value and anything else (a resource, a Coding) as an empty string, so that
 * every name can be checked; the operation reads those from the body itself.
 */
export function operationInputs(query: URLSearchParams, body: Parameters | undefined): URLSearchParams {
  const inputs = new URLSearchParams(query);
  for (const p of body?.parameter ?? []) {
    const value = Object.entries(p).find(([key]) => key.startsWith('value'))?.[1];
    inputs.append(p.name ?? '', ['string', 'number', 'boolean'].includes(typeof value) ? String(value) : '');
  }
  return inputs;
}

/** The inputs of `$expand` this service honours (declared in its OperationDefinition). */
const EXPAND_INPUTS = [
  'url',
  'filter',
  'offset',
  'count',
  'includeDesignations',
  'includeDefinition',
  'activeOnly',
  'excludeNested',
];

/** One input given at most once: a second would be left unread. */
function single(inputs: URLSearchParams, name: string): string | undefined {
  const values = inputs.getAll(name);
  if (values.length > 1) throw Failures.badRequest(`${name} is given once`, [name]);
  return values[0];
}

function flag(inputs: URLSearchParams, name: string): boolean | undefined {
  const value = single(inputs, name);
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') throw Failures.badRequest(`${name} is true or false`, [name]);
  return value === 'true';
}

function whole(inputs: URLSearchParams, name: string): number | undefined {
  const value = single(inputs, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,6}$/.test(value)) throw Failures.badRequest(`${name} is a whole number`, [name]);
  return Number(value);
}

const notHonoured = (diagnostics: string, at: string) =>
  new FhirError('malformed', [{ code: 'not-supported', diagnostics, expression: [at] }]);

/** Lower case, accents aside: how a filter compares (as the embedded store's string search). */
const foldText = (text: string) => text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
const wordsOf = (text: string) =>
  foldText(text)
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);

/** Each word of the filter begins a word of the concept's display or code. */
function matchesFilter(concept: ExpandedConcept, filter: string): boolean {
  const words = [...wordsOf(concept.display ?? ''), ...wordsOf(concept.code)];
  return wordsOf(filter).every((w) => words.some((word) => word.startsWith(w)));
}

/**
 * `ValueSet/$expand?url=...` (or on an id): the value set with its expansion, narrowed by
 * `filter` and paged by `offset` and `count`, the inputs applied listed in it
 * (https://hl7.org/fhir/R4/valueset-operation-expand.html). What cannot be honoured is refused.
 */
export function expandValueSet(target: { id?: string }, inputs: URLSearchParams, now: Date): ValueSet {
  assertOnlyParams(inputs, [...EXPAND_INPUTS, ...RESPONSE_PARAMS], '$expand');
  const url = single(inputs, 'url');
  if (target.id && url !== undefined) {
    throw Failures.badRequest('On a value set named by its id, $expand takes no url', ['url']);
  }
  if (flag(inputs, 'activeOnly')) {
    throw notHonoured(
      'activeOnly=true is not supported: whether an HL7 code is inactive is not kept here',
      'activeOnly',
    );
  }
  if (flag(inputs, 'includeDesignations')) {
    throw notHonoured(
      'includeDesignations=true is not supported: no designations are kept here',
      'includeDesignations',
    );
  }
  // Every expansion here is flat, which either value of excludeNested allows.
  const excludeNested = flag(inputs, 'excludeNested');
  const includeDefinition = flag(inputs, 'includeDefinition');
  const offset = whole(inputs, 'offset');
  const count = whole(inputs, 'count');
  const filter = single(inputs, 'filter')?.trim() || undefined;
  const valueSet = target.id ? (readDefinition('ValueSet', target.id) as ValueSet) : valueSetByUrl(url);
  const all = expansionOf(valueSet);
  const matching = filter ? all.filter((c) => matchesFilter(c, filter)) : all;
  const start = offset ?? 0;
  const contains = matching.slice(start, count === undefined ? undefined : start + count);
  const parameter: ValueSetExpansionParameter[] = [
    ...(filter ? [{ name: 'filter', valueString: filter }] : []),
    ...(offset !== undefined ? [{ name: 'offset', valueInteger: offset }] : []),
    ...(count !== undefined ? [{ name: 'count', valueInteger: count }] : []),
    ...(includeDefinition !== undefined
      ? [{ name: 'includeDefinition', valueBoolean: includeDefinition }]
      : []),
    ...(excludeNested !== undefined ? [{ name: 'excludeNested', valueBoolean: excludeNested }] : []),
  ];
  const { compose: _compose, ...withoutDefinition } = valueSet;
  return {
    ...(includeDefinition === false ? withoutDefinition : valueSet),
    expansion: {
      identifier: `urn:uuid:${crypto.randomUUID()}`,
      timestamp: now.toISOString(),
      total: matching.length,
      ...(offset !== undefined ? { offset } : {}),
      ...(parameter.length ? { parameter } : {}),
      // FHIR JSON has no empty arrays: a page past the end, or count=0, has no contains.
      ...(contains.length ? { contains } : {}),
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

/** What `$validate` checks a resource as (https://hl7.org/fhir/R4/resource-operation-validate.html). */
const VALIDATE_MODES = ['create', 'update', 'profile'];

/**
 * `POST /fhir/{type}/$validate`: the resource checked as if it were being stored (base R4, the
 * type's profile or a named one of ours, required bindings, the NHS number), nothing stored. The
 * answer lists every issue, warnings included; "no problems" when there are none. `mode=create`
 * or `update` adds whether this service takes that write of the type at all (and an update's id);
 * `mode=profile` checks against the profile named, or base R4 alone. `delete` is refused: nothing
 * is deleted here, so there is no deletion to check.
 */
export function validateResource(
  type: string,
  body: unknown,
  inputs: URLSearchParams,
  writes: (type: string) => { create: boolean; update: boolean },
): OperationOutcome {
  if (!isReadableResourceType(type)) throw Failures.unsupportedType(type);
  assertOnlyParams(inputs, ['resource', 'profile', 'mode', ...RESPONSE_PARAMS], '$validate');
  const mode = single(inputs, 'mode');
  if (mode === 'delete') {
    throw notHonoured('mode=delete is not supported: nothing is deleted through this service', 'mode');
  }
  if (mode !== undefined && !VALIDATE_MODES.includes(mode)) {
    throw Failures.badRequest(`mode is one of ${VALIDATE_MODES.join(', ')}`, ['mode']);
  }
  const profile = single(inputs, 'profile') || undefined;
  let resource = body as Resource | undefined;
  if ((body as Parameters)?.resourceType === 'Parameters') {
    resource = (body as Parameters).parameter?.find((p) => p.name === 'resource')?.resource;
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
  const issues: Issue[] =
    mode === 'profile' && !profile
      ? validateBaseR4(resource)
      : checkAgainstProfile(resource, sd ? { profile: sd } : {});
  if (mode === 'create' || mode === 'update') issues.push(...writeIssues(type, resource, mode, writes(type)));
  return operationOutcome(
    issues.length
      ? issues
      : [{ severity: 'information', code: 'informational', diagnostics: 'No problems found' }],
  );
}

/** Why a write of this kind would be refused whatever the content: the type does not take it, or an update names no id. */
function writeIssues(
  type: string,
  resource: Resource,
  mode: 'create' | 'update',
  served: { create: boolean; update: boolean },
): Issue[] {
  const issues: Issue[] = [];
  if (!served[mode]) {
    issues.push({
      code: 'not-supported',
      diagnostics: `This service does not ${mode} a ${type} on its own`,
      expression: [type],
    });
  }
  if (mode === 'update' && !resource.id) {
    issues.push({
      code: 'required',
      diagnostics: 'An update names the id of the resource',
      expression: [`${type}.id`],
    });
  }
  return issues;
}
