import { evalFhirPath, type Filter, getSearchParameter, Operator, splitSearchOnComma } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/**
 * String and identifier matching as a Medplum server on Postgres answers it and FHIR defines it
 * (https://hl7.org/fhir/R4/search.html#string, #token), where Medplum's in-memory matcher differs:
 * - a string parameter matches a value that *starts with* the text, ignoring case and accents
 *   (each part of a name or address is a value); `:exact` matches a whole value, case and accents
 *   included; `:contains` matches anywhere, ignoring case and accents;
 * - an `identifier` parameter matches system and value exactly, case included (`system|value`,
 *   `|value` for no system, `value` for any system, `system|` for any value).
 * Returns the matcher for a filter it decides, or undefined to leave the filter to Medplum's.
 */
export function textOrIdentifierMatcher(
  resourceType: string,
  filter: Filter,
): ((resource: Resource) => boolean) | undefined {
  const param = getSearchParameter(resourceType, filter.code);
  if (!param?.expression) return undefined;
  const expression = param.expression;
  const wanted = splitSearchOnComma(filter.value);
  if (param.type === 'string') {
    const test = stringTest(filter.operator);
    if (!test) return undefined;
    // Folded once here, not once per resource, unless compared as given (`:exact`).
    const asked = filter.operator === Operator.EXACT ? wanted : wanted.map(foldText);
    return (resource) => {
      const values = stringValues(evalFhirPath(expression, resource));
      return asked.some((w) => values.some((v) => test(v, w)));
    };
  }
  if (param.type === 'token' && filter.code === 'identifier') {
    if (filter.operator !== Operator.EQUALS && filter.operator !== Operator.EXACT) return undefined;
    return (resource) => {
      const identifiers = evalFhirPath(expression, resource) as { system?: string; value?: string }[];
      return wanted.some((w) => identifiers.some((i) => identifierMatches(i, w)));
    };
  }
  return undefined;
}

function stringTest(operator: Operator): ((value: string, wanted: string) => boolean) | undefined {
  switch (operator) {
    case Operator.EQUALS:
    case Operator.STARTS_WITH:
      return (value, wanted) => foldText(value).startsWith(wanted);
    case Operator.EXACT:
      return (value, wanted) => value === wanted;
    case Operator.CONTAINS:
      return (value, wanted) => foldText(value).includes(wanted);
    default:
      return undefined;
  }
}

/**
 * Lower case, accents removed: how a string search compares unless `:exact`. (The value-set
 * filter in src/resources/contract.ts folds alike; the port may not import from above it.)
 */
export function foldText(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The strings a string parameter's values hold: each part of a name or an address on its own. */
function stringValues(values: unknown[]): string[] {
  const out: string[] = [];
  const visit = (value: unknown) => {
    if (typeof value === 'string') out.push(value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) if (key !== 'period' && key !== 'use') visit(inner);
    }
  };
  values.forEach(visit);
  return out;
}

function identifierMatches(identifier: { system?: string; value?: string }, wanted: string): boolean {
  const bar = wanted.indexOf('|');
  if (bar < 0) return identifier.value === wanted;
  const system = wanted.slice(0, bar);
  const value = wanted.slice(bar + 1);
  if (system === '') return identifier.system === undefined && identifier.value === value;
  if (value === '') return identifier.system === system;
  return identifier.system === system && identifier.value === value;
}
