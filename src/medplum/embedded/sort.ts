import { evalFhirPath, globalSchema, type SortRule } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/**
 * Sorts by each rule in order of precedence (the first rule decides, later ones break ties),
 * comparing the same rendering of the sort parameter's values that Medplum's in-memory
 * repository compares; each resource's keys are computed once.
 */
export function sortBy<T extends Resource>(resources: T[], rules: readonly SortRule[]): T[] {
  const keyed = resources.map((resource) => ({
    resource,
    keys: rules.map((rule) => {
      const expression = globalSchema.types[resource.resourceType]?.searchParams?.[rule.code]?.expression;
      return expression ? JSON.stringify(evalFhirPath(expression, resource)) : undefined;
    }),
  }));
  keyed.sort((a, b) => {
    for (let i = 0; i < rules.length; i++) {
      const x = a.keys[i];
      const y = b.keys[i];
      if (x === undefined || y === undefined) continue;
      const order = x.localeCompare(y) * (rules[i]?.descending ? -1 : 1);
      if (order !== 0) return order;
    }
    return 0;
  });
  return keyed.map((k) => k.resource);
}
