import type { Resource, ResourceType } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { scopedQuery, visibleEntries } from '../auth/tenancy.ts';
import { FhirError } from '../fhir/outcomes.ts';
import type { FhirStore } from '../medplum/store.ts';
import type { KeyedLocks } from '../referrals/locks.ts';
import { parseConditionalCriteria } from './conditional-criteria.ts';

export interface ConditionalCreateDeps {
  store: FhirStore;
  locks: KeyedLocks;
}

/** What a create became: a new resource, or the one its criteria matched (nothing written). */
export type CreateResult<T extends Resource> =
  | { created: true; resource: T }
  | { created: false; resource: Resource };

/**
 * A create, conditional when `criteria` (the `If-None-Exist` header) is given
 * (https://hl7.org/fhir/R4/http.html#ccreate): no match creates; one match answers with it and
 * writes nothing; several are `precondition-failed`; criteria that do not parse are `malformed`.
 *
 * The criteria are a search, so they need the search scope on the type as well as create, and
 * they search only what the caller may see. Another organisation's resource is never matched:
 * the create then behaves exactly as if nothing matched (and stores the caller's own resource),
 * so neither the answer nor its status tells whether someone else holds a match.
 * Concurrent creates with the same criteria from the same organisation are serialised.
 */
export async function createUnlessMatched<T extends Resource>(
  deps: ConditionalCreateDeps,
  ctx: RequestContext,
  type: ResourceType,
  criteria: string | undefined,
  create: () => Promise<T>,
): Promise<CreateResult<T>> {
  if (criteria === undefined) return { created: true, resource: await create() };
  authorize(ctx.principal, type, 'c');
  authorize(ctx.principal, type, 's');
  const query = parseConditionalCriteria(type, criteria, 'If-None-Exist');
  const key = `IfNoneExist|${type}|${ctx.principal.organization ?? ''}|${[...query].sort().join('&')}`;
  return deps.locks.withLocks([key], async () => {
    const existing = await findMatch(deps.store, ctx, type, query);
    if (!existing) return { created: true, resource: await create() };
    ctx.touched.push(`${type}/${existing.id}`);
    return { created: false, resource: existing };
  });
}

/** The one resource the caller may see that the criteria match, if any; several are refused. */
async function findMatch(
  store: FhirStore,
  ctx: RequestContext,
  type: ResourceType,
  criteria: URLSearchParams,
): Promise<Resource | undefined> {
  const query = new URLSearchParams(criteria);
  // Two are enough to tell one match from several.
  query.set('_count', '2');
  // Only what the caller is party to is matched: never what it sees as a care team member.
  const found = visibleEntries(
    ctx.principal,
    await store.search(type, scopedQuery(ctx.principal, type, query, { partyOnly: true })),
  );
  const matches = (found.entry ?? []).flatMap((e) =>
    e.resource?.resourceType === type && e.search?.mode !== 'include' ? [e.resource] : [],
  );
  if (matches.length > 1) {
    throw new FhirError('precondition-failed', [
      {
        code: 'multiple-matches',
        diagnostics: `The If-None-Exist criteria match more than one ${type}; make them more selective`,
      },
    ]);
  }
  return matches[0];
}
