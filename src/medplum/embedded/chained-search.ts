import {
  badRequest,
  evalFhirPath,
  type Filter,
  globalSchema,
  OperationOutcomeError,
  Operator,
  parseSearchRequest,
} from '@medplum/core';
import type { Reference, Resource } from '@medplum/fhirtypes';

/** A forward-chained filter such as `subject:Patient.identifier=...`. */
export interface Chain {
  code: string;
  expression: string;
  targetType: string;
  filters: Filter[];
  /** The `Type/id` of every target that matches `filters`, once the search has found them. */
  targets?: Set<string>;
}

/**
 * Recognises a forward chain the way Medplum's in-memory repository does: only `=`, an explicit
 * `:Type` unless the reference parameter has a single target; `_has` is not a chain.
 */
export function parseChain(resourceType: string, filter: Filter): Chain | undefined {
  const dot = filter.code.indexOf('.');
  if (dot < 0 || filter.code.startsWith('_has:')) return undefined;
  if (filter.operator !== Operator.EQUALS) {
    throw new OperationOutcomeError(badRequest('Chained search supports only equality'));
  }
  const left = filter.code.slice(0, dot);
  const colon = left.indexOf(':');
  const code = colon < 0 ? left : left.slice(0, colon);
  const param = globalSchema.types[resourceType]?.searchParams?.[code];
  if (colon < 0 && param?.target?.length !== 1) {
    throw new OperationOutcomeError(
      badRequest(`Unable to identify next resource type for search parameter: ${resourceType}?${code}`),
    );
  }
  const targetType = colon < 0 ? param?.target?.[0] : left.slice(colon + 1);
  if (!param?.expression || !targetType) return undefined;
  const chained = parseSearchRequest(targetType, { [filter.code.slice(dot + 1)]: filter.value });
  return { code, expression: param.expression, targetType, filters: chained.filters ?? [] };
}

/** Whether the resource's chained reference points at one of the chain's matched targets. */
export function matchesChain(resource: Resource, chain: Chain): boolean {
  for (const value of evalFhirPath(chain.expression, resource) as (Reference | undefined)[]) {
    const [type, id] = value?.reference?.split('/') ?? [];
    if (type === chain.targetType && id && chain.targets?.has(`${type}/${id}`)) return true;
  }
  return false;
}
