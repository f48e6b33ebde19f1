import { getSearchParameter, parseSearchRequest } from '@medplum/core';
import type { ResourceType } from '@medplum/fhirtypes';
import { STORE_INTERNAL_SEARCH_PARAMS } from '../fhir/capability-statement.ts';
import { FhirError, type Issue } from '../fhir/outcomes.ts';

/** Longer criteria than any real conditional create needs; bounds the work one request makes. */
const MAX_LENGTH = 2048;
const MAX_PARAMETERS = 10;

/**
 * Modifiers accepted, by search parameter type. Medplum's parser reads an unknown modifier as
 * plain equality, so anything else is refused rather than matched more widely than asked.
 */
const MODIFIERS: Readonly<Record<string, readonly string[]>> = {
  token: ['not', 'missing'],
  string: ['exact', 'contains', 'missing'],
  reference: ['missing'],
  date: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
  uri: ['missing'],
};

/** How refusals name the criteria and where they are used. */
export interface CriteriaWords {
  /** `The conditional create criteria` */
  criteria: string;
  /** `in conditional creates` */
  within: string;
}

const CONDITIONAL_CREATE: CriteriaWords = {
  criteria: 'The conditional create criteria',
  within: 'in conditional creates',
};

/** A parameter name safe to repeat in a diagnostic (it is the caller's text, but only a name). */
const nameOf = (code: string): string => (/^[A-Za-z0-9_-]{1,64}$/.test(code) ? code : 'a parameter');

/**
 * Reads the criteria of a conditional create (`If-None-Exist`, or a transaction entry's
 * `request.ifNoneExist`; https://hl7.org/fhir/R4/http.html#ccreate) as the search they stand for,
 * and checks every parameter is one the type defines, with a value of the form its type takes
 * (as Medplum's `parseSearchRequest` judges it). A `Type?` or `?` prefix is accepted. Chains,
 * `_has` and result parameters (`_count`, `_include`, ...) are refused: a match must be decided
 * by the resource itself, never by what it points at (which the caller may not be allowed to
 * see). Every problem is raised at once as `malformed`, each at `at`.
 */
export function parseConditionalCriteria(type: ResourceType, criteria: string, at: string): URLSearchParams {
  return parseSearchCriteria(type, criteria, at, CONDITIONAL_CREATE);
}

/**
 * Criteria a resource is matched against by itself, as a conditional create's are, named in
 * refusals by `words` (a subscription's criteria are read the same way).
 */
export function parseSearchCriteria(
  type: ResourceType,
  criteria: string,
  at: string,
  words: CriteriaWords,
): URLSearchParams {
  const fail = (issues: Issue[]) => new FhirError('malformed', issues);
  const issue = (code: Issue['code'], diagnostics: string): Issue => ({
    code,
    diagnostics,
    expression: [at],
  });
  const text = criteria.trim();
  if (text.length > MAX_LENGTH) {
    throw fail([issue('too-long', `${words.criteria} are longer than ${MAX_LENGTH} characters`)]);
  }
  const prefix = /^(?:\/?([A-Za-z]+))?\?/.exec(text);
  if (prefix?.[1] && prefix[1] !== type) {
    throw fail([issue('invalid', `${words.criteria} must search ${type}`)]);
  }
  const params = new URLSearchParams(prefix ? text.slice(prefix[0].length) : text);
  const entries = [...params];
  if (entries.length === 0) {
    throw fail([issue('required', `${words.criteria} name no search parameter`)]);
  }
  if (entries.length > MAX_PARAMETERS) {
    throw fail([issue('too-costly', `${words.criteria} hold more than ${MAX_PARAMETERS} parameters`)]);
  }
  const issues = entries.flatMap(([key, value]) => parameterIssues(type, key, value, issue, words));
  if (issues.length) throw fail(issues);
  return params;
}

function parameterIssues(
  type: ResourceType,
  key: string,
  value: string,
  issue: (code: Issue['code'], diagnostics: string) => Issue,
  words: CriteriaWords,
): Issue[] {
  const [code = '', modifier, ...extra] = key.split(':');
  const name = nameOf(code);
  if (code === '_has' || code.includes('.') || modifier?.includes('.')) {
    return [
      issue('not-supported', `Chained and reverse-chained parameters are not supported ${words.within}`),
    ];
  }
  const definition = STORE_INTERNAL_SEARCH_PARAMS.includes(code) ? undefined : getSearchParameter(type, code);
  if (!definition) return [issue('not-supported', `Search parameter ${name} is not supported for ${type}`)];
  const typeModifier = definition.type === 'reference' && /^[A-Z][A-Za-z]+$/.test(modifier ?? '');
  if (
    extra.length ||
    (modifier !== undefined && !typeModifier && !MODIFIERS[definition.type]?.includes(modifier))
  ) {
    return [issue('not-supported', `The modifier on ${name} is not supported ${words.within}`)];
  }
  if (value === '' || (modifier === 'missing' && value !== 'true' && value !== 'false')) {
    return [issue('value', `The value of ${name} is missing or not of the form its type takes`)];
  }
  try {
    parseSearchRequest(type, { [key]: value });
  } catch {
    return [issue('value', `The value of ${name} is not of the form its type takes`)];
  }
  return [];
}
