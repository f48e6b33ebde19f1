import {
  getSearchParameter,
  getSearchParameterDetails,
  parseSearchRequest,
  SearchParameterType,
  splitSearchOnComma,
} from '@medplum/core';
import type { BundleEntry, ResourceType } from '@medplum/fhirtypes';
import {
  type SearchParamCapability,
  STORE_INTERNAL_SEARCH_PARAMS,
  storeSearchParams,
} from './capability-statement.ts';
import { FhirError, operationOutcome } from './outcomes.ts';
import { isReadableResourceType, type ServedResourceType } from './resource-types.ts';
import { CANONICAL_BASE } from './systems.ts';

/**
 * The rules for what a search or a read may ask, names and values both: a store that ignores
 * what it does not know (Medplum does, for unknown modifiers and sort keys) would answer a
 * different question than the one asked, and the service's own labels and tags must not be
 * reachable at all. Every refusal names the parameter and never repeats the value.
 */

/** What one search parameter asks, once checked. */
export interface CheckedParam {
  /** The pair as the store is asked it; none for what the facade answers itself. */
  forStore?: [string, string];
  /** The types a chain passes through to reach its last parameter. */
  reaches: readonly string[];
}

/** Parameters every answer takes: they shape the HTTP response, not what is answered. */
export const RESPONSE_PARAMS: readonly string[] = ['_format', '_pretty'];

/** Parameters a read by id takes: only those that shape the answer. */
export const READ_PARAMS: readonly string[] = ['_summary', '_elements', ...RESPONSE_PARAMS];

/** Parameters the facade answers itself (paging, subsetting, rendering); never sent to the store. */
const FACADE_PARAMS = ['_count', '_offset', ...READ_PARAMS];

/** R4's modifiers for each parameter type, besides a reference's `[type]` (search.html#modifiers). */
const R4_MODIFIERS: Readonly<Record<string, readonly string[]>> = {
  string: ['missing', 'exact', 'contains'],
  token: ['missing', 'text', 'not', 'above', 'below', 'in', 'not-in', 'of-type'],
  reference: ['missing', 'identifier'],
  uri: ['missing', 'above', 'below'],
  date: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
};

/**
 * The modifiers both stores answer as R4 means them: Medplum's in-memory matcher, which the
 * embedded store runs, compares the others (`:text`, `:in`, `:of-type`, `:identifier`, ...) as
 * plain values, answering another question.
 */
const HONOURED_MODIFIERS = ['missing', 'exact', 'contains', 'not'];

/** Of the parameters on `meta`, those a search may sort by; the others reach its labels and tags. */
const SORTABLE_META = ['_id', '_lastUpdated'];

const TOTALS = ['none', 'estimate', 'accurate'];

/**
 * Includes named by the element rather than by the search parameter, as readers of the resource
 * expect (`HealthcareService:providedBy`), with the parameter the store knows.
 */
const INCLUDE_ALIASES: Readonly<Record<string, string>> = {
  'HealthcareService:providedBy': 'HealthcareService:organization',
};

/** Every code system the service makes (its access labels and tags among them) lies under its base. */
const OWN_NAMESPACE = CANONICAL_BASE.toLowerCase();

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

const refuse = (diagnostics: string, at: string, code: 'invalid' | 'not-supported' = 'invalid') =>
  new FhirError('malformed', [{ code, diagnostics, expression: [at] }]);

/**
 * A parameter refused for its name, modifier or chain, not for its value: what a search with
 * `Prefer: handling=lenient` leaves out (https://hl7.org/fhir/R4/search.html#errors). A
 * malformed value is refused whatever the preference: it is a mistake, not a parameter unknown here.
 */
export class UnsupportedParameter extends FhirError {
  readonly parameter: string;

  constructor(diagnostics: string, parameter: string, code: 'invalid' | 'not-supported' = 'invalid') {
    super('malformed', [{ code, diagnostics, expression: [parameter] }]);
    this.parameter = parameter;
  }
}

/** The entry that says which parameters a lenient search left out (R4 search mode `outcome`). */
export function ignoredParametersNote(ignored: readonly string[]): BundleEntry {
  return {
    fullUrl: `urn:uuid:${crypto.randomUUID()}`,
    resource: operationOutcome([
      {
        severity: 'warning',
        code: 'not-supported',
        diagnostics: `Not applied, as Prefer: handling=lenient asks: ${ignored.join(', ')}; the self link holds the parameters that were`,
        expression: [...ignored],
      },
    ]),
    search: { mode: 'outcome' },
  };
}

const unsupported = (diagnostics: string, at: string, code: 'invalid' | 'not-supported' = 'invalid') =>
  new UnsupportedParameter(diagnostics, at, code);

/** A search parameter the service offers for the type (what its CapabilityStatement declares). */
export function offeredSearchParam(type: string, code: string): SearchParamCapability | undefined {
  if (!isReadableResourceType(type)) return undefined;
  return storeSearchParams(type).find((sp) => sp.name === code);
}

/** Refuses a read by id that carries anything but the parameters a read takes. */
export function assertReadParams(params: URLSearchParams): void {
  assertOnlyParams(params, READ_PARAMS, 'A read');
}

/**
 * Refuses a query holding a parameter `allowed` does not name, naming it: an answer never
 * leaves out what was asked as if it had been applied. `what` begins the diagnostics.
 */
export function assertOnlyParams(params: URLSearchParams, allowed: readonly string[], what: string): void {
  for (const key of params.keys()) {
    if (!allowed.includes(key)) {
      throw refuse(
        allowed.length ? `${what} takes only ${allowed.join(', ')}` : `${what} takes no parameters`,
        key,
      );
    }
  }
}

/** Checks one parameter of a search of `type`, its name, modifier and value. */
export function checkSearchParam(type: ServedResourceType, key: string, value: string): CheckedParam {
  // Internal parameters are refused anywhere in a key, chains and `_has` included.
  const internal = key.split(/[:.]/).find((part) => STORE_INTERNAL_SEARCH_PARAMS.includes(part));
  if (internal) throw unsupported(`Search parameter ${internal} is not supported`, internal);
  if (key.includes('.')) return checkChain(type, key, value);
  const [code = '', modifier] = splitModifier(key);
  if (code === '_has') throw unsupported('Reverse chaining (_has) is not supported', code, 'not-supported');
  const control = checkControl(type, code, modifier, value);
  if (control !== false) return { ...(control ? { forStore: control } : {}), reaches: [] };
  const param = offeredSearchParam(type, code);
  if (!param) throw unsupported(`Search parameter ${code} is not supported for ${type}`, code);
  return { forStore: checkFilter(type, param, modifier, value, code), reaches: [] };
}

/** `code` and what follows its first colon, if anything does. */
function splitModifier(key: string): [string, string | undefined] {
  const colon = key.indexOf(':');
  return colon < 0 ? [key, undefined] : [key.slice(0, colon), key.slice(colon + 1)];
}

/**
 * A result parameter (https://hl7.org/fhir/R4/search.html#all): the pair for the store, undefined
 * when the facade answers it, or false when `code` is not one.
 */
function checkControl(
  type: ServedResourceType,
  code: string,
  modifier: string | undefined,
  value: string,
): [string, string] | undefined | false {
  if (code === '_include' || code === '_revinclude') {
    if (modifier !== undefined && modifier !== 'iterate')
      throw unsupported(`${code} takes only :iterate`, code);
    const key = modifier ? `${code}:${modifier}` : code;
    return [key, checkInclude(type, code, modifier === 'iterate', value)];
  }
  if (!FACADE_PARAMS.includes(code) && code !== '_sort' && code !== '_total') return false;
  if (modifier !== undefined) throw unsupported(`${code} takes no modifier`, code);
  if (code === '_sort') checkSort(type, value);
  if (code === '_total' && !TOTALS.includes(value))
    throw refuse(`_total is one of ${TOTALS.join(', ')}`, code);
  return FACADE_PARAMS.includes(code) ? undefined : [code, value];
}

/** Each `_sort` key, `-` for descending, is a parameter the type offers and not a hidden one. */
function checkSort(type: ServedResourceType, value: string): void {
  for (const field of value.split(',')) {
    const code = field.startsWith('-') ? field.slice(1) : field;
    if (!offeredSearchParam(type, code) || (code.startsWith('_') && !SORTABLE_META.includes(code))) {
      throw refuse(`_sort names search parameters ${type} offers for sorting, comma separated`, '_sort');
    }
  }
}

/**
 * `SourceType:parameter[:TargetType]`: a reference parameter the source type offers, from the
 * searched type for `_include`, pointing at it for `_revinclude` (either from any served type
 * when iterated), with a target type it can point at that the service serves. Answers the value
 * as the store knows it.
 */
function checkInclude(type: ServedResourceType, code: string, iterate: boolean, value: string): string {
  const parts = value.split(':');
  if (parts.includes('*'))
    throw refuse(`${code} names its parameter; * is not supported`, code, 'not-supported');
  const [named = '', target] = [parts.slice(0, 2).join(':'), parts[2]];
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !p)) {
    throw refuse(`${code} is SourceType:parameter or SourceType:parameter:TargetType`, code);
  }
  const [source = '', name = ''] = (INCLUDE_ALIASES[named] ?? named).split(':');
  const param = offeredSearchParam(source, name);
  if (param?.type !== 'reference') {
    throw refuse(`${code} names a reference search parameter of a type the service serves`, code);
  }
  if (code === '_include' && !iterate && source !== type) {
    throw refuse(`_include names a reference parameter of ${type}, the type searched`, code);
  }
  const canTarget = (t: string) => isReadableResourceType(t) && Boolean(param.target?.includes(t));
  if (code === '_revinclude' && !iterate && (!canTarget(type) || (target && target !== type))) {
    throw refuse(`_revinclude names a reference parameter that can point at ${type}`, code);
  }
  if (target && !canTarget(target)) {
    throw refuse(`The target type of ${code} is one its parameter points at and the service serves`, code);
  }
  return [source, name, ...(target ? [target] : [])].join(':');
}

/**
 * A chained parameter (`subject:Patient.name`): each link a reference parameter naming (or
 * having) one served target type, the last a parameter of the type reached.
 */
function checkChain(type: ServedResourceType, key: string, value: string): CheckedParam {
  const links = key.split('.');
  const last = links.pop() as string;
  const at = splitModifier(links[0] as string)[0];
  const reaches: string[] = [];
  let current: string = type;
  for (const link of links) {
    const [code = '', named] = splitModifier(link);
    const param = offeredSearchParam(current, code);
    const next = named ?? (param?.target?.length === 1 ? param.target[0] : undefined);
    if (
      param?.type !== 'reference' ||
      !next ||
      !param.target?.includes(next) ||
      !isReadableResourceType(next)
    ) {
      throw unsupported(
        'Each link of a chain is a reference parameter and the one served type it reaches',
        at,
      );
    }
    reaches.push(next);
    current = next;
  }
  const [code = '', modifier] = splitModifier(last);
  const param = offeredSearchParam(current, code);
  if (!param) throw unsupported(`A chain ends in a search parameter that ${current} offers`, at);
  const [forStore, forStoreValue] = checkFilter(current, param, modifier, value, at);
  return { forStore: [[...links, forStore].join('.'), forStoreValue], reaches };
}

/** A filter on one offered parameter: its modifier, then its value. */
function checkFilter(
  type: string,
  param: SearchParamCapability,
  modifier: string | undefined,
  value: string,
  at: string,
): [string, string] {
  if (modifier !== undefined && param.type === 'reference' && param.target?.includes(modifier)) {
    if (!isReadableResourceType(modifier))
      throw unsupported(`${at} names a type the service does not serve`, at);
    return [param.name, withType(modifier, value, at)];
  }
  if (modifier !== undefined) {
    if (!R4_MODIFIERS[param.type]?.includes(modifier))
      throw unsupported(`${param.name} does not take that modifier`, at);
    if (!HONOURED_MODIFIERS.includes(modifier)) {
      throw unsupported(`${param.name}:${modifier} is not supported`, at, 'not-supported');
    }
  }
  if (param.name === '_tag') checkTagSearch(modifier, value, at);
  const key = modifier ? `${param.name}:${modifier}` : param.name;
  if (modifier === 'missing') {
    if (value !== 'true' && value !== 'false') throw refuse(`${key} is true or false`, at);
  } else {
    assertValueForm(type, key, value, at);
  }
  return [key, value];
}

/** `subject:Patient=123` as the store answers it, `subject=Patient/123`. */
function withType(type: string, value: string, at: string): string {
  return splitSearchOnComma(value)
    .map((one) => {
      const id = one.startsWith(`${type}/`) ? one.slice(type.length + 1) : one;
      if (!FHIR_ID.test(id)) throw refuse(`With a type modifier, ${at} takes ids of that type`, at);
      return `${type}/${id}`;
    })
    .join(',');
}

/**
 * `_tag` may search the tags clients set, never the service's own (referral parts, fingerprints,
 * geohash cells, ...): so every value names its system, as a code alone would match any system,
 * and `:missing` would tell which resources the service tagged. Systems compare case-blind, as
 * Medplum's matcher compares them.
 */
function checkTagSearch(modifier: string | undefined, value: string, at: string): void {
  if (modifier === 'missing') throw unsupported('_tag:missing is not supported', at, 'not-supported');
  for (const one of splitSearchOnComma(value)) {
    const bar = one.indexOf('|');
    if (bar < 0) throw refuse('_tag names the system of each tag it searches for (system|code)', at);
    if (one.slice(0, bar).trim().toLowerCase().startsWith(OWN_NAMESPACE)) {
      throw refuse("_tag cannot search the service's own tags", at);
    }
  }
}

/** A value of the form its parameter's type takes, as Medplum's own search parser judges it. */
function assertValueForm(type: string, key: string, value: string, at: string): void {
  try {
    parseSearchRequest(type as ResourceType, { [key]: value });
  } catch {
    throw refuse(`The value of ${at} is not of the form its type takes`, at);
  }
  // Medplum's parser takes any text for a token; one on a boolean element is true or false.
  if (!isBooleanParam(type, key.split(':')[0] as string)) return;
  if (!splitSearchOnComma(value).every((v) => v === 'true' || v === 'false')) {
    throw refuse(`${at} is true or false`, at);
  }
}

function isBooleanParam(type: string, code: string): boolean {
  const param = getSearchParameter(type, code);
  return (
    param?.type === 'token' && getSearchParameterDetails(type, param).type === SearchParameterType.BOOLEAN
  );
}
