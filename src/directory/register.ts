import type { Bundle, Identifier } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { FhirError, type Issue } from '../fhir/outcomes.ts';
import { requireShape } from '../fhir/shape.ts';
import { ODS_SYSTEMS } from '../fhir/systems.ts';
import { type FhirStore, searchAll } from '../medplum/store.ts';
import type { KeyedLocks } from '../referrals/locks.ts';
import { type CreateResult, createUnlessMatched } from '../workflow/conditional-create.ts';
import { beginUpdate, patched, replacementOf } from '../workflow/versioned-update.ts';
import {
  DIRECTORY_IMPORT_LOCK,
  type DirectoryResource,
  type DirectoryType,
  directoryIssues,
  forCreate,
  prepareForStore,
  uniqueIdentifiers,
} from './directory-rules.ts';
import { tokenOf } from './import-entries.ts';

export interface DirectoryDeps {
  store: FhirStore;
  locks: KeyedLocks;
}

/**
 * Registers an organisation, service or location (`POST`), conditionally when `If-None-Exist` is
 * given. Needs the create scope on the type (a directory scope such as
 * `system/HealthcareService.cu`). An entry whose unique identifier (ODS code, charity or company
 * number, Open Referral id) another entry already holds is a conflict, never a second entry.
 */
export async function registerDirectoryEntry(
  deps: DirectoryDeps,
  ctx: RequestContext,
  type: DirectoryType,
  body: unknown,
  ifNoneExist: string | undefined,
): Promise<CreateResult<DirectoryResource>> {
  authorize(ctx.principal, type, 'c');
  const resource = prepareForStore(forCreate(directoryBody(type, body)));
  await requireValid(deps.store, resource);
  const result = await createUnlessMatched(deps, ctx, type, ifNoneExist, () =>
    withUniqueIdentifiers(deps, resource, undefined, () => deps.store.create(resource)),
  );
  if (result.created) ctx.touched.push(`${type}/${result.resource.id}`);
  return result;
}

/** Replaces an entry (`PUT` with `If-Match`); `active: false` takes a service out of use. */
export async function updateDirectoryEntry(
  deps: DirectoryDeps,
  ctx: RequestContext,
  type: DirectoryType,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<DirectoryResource> {
  const { version } = await beginUpdate<DirectoryResource>(deps.store, ctx, type, id, ifMatch);
  return saveVersion(deps, ctx, replacementOf<DirectoryResource>(type, id, body), version);
}

/** Changes an entry with a JSON Patch (`PATCH` with `If-Match`). */
export async function patchDirectoryEntry(
  deps: DirectoryDeps,
  ctx: RequestContext,
  type: DirectoryType,
  id: string,
  body: unknown,
  ifMatch: string | undefined,
): Promise<DirectoryResource> {
  const { stored, version } = await beginUpdate<DirectoryResource>(deps.store, ctx, type, id, ifMatch);
  const changed = patched(stored, body);
  if (changed.resourceType !== type || changed.id !== id) {
    throw new FhirError('invalid', [
      { code: 'invariant', diagnostics: 'A patch cannot change the resource type or id' },
    ]);
  }
  return saveVersion(deps, ctx, changed, version);
}

async function saveVersion(
  deps: DirectoryDeps,
  ctx: RequestContext,
  replacement: DirectoryResource,
  version: string,
): Promise<DirectoryResource> {
  const { meta, ...rest } = replacement;
  const resource = prepareForStore({
    ...rest,
    ...(meta?.profile || meta?.tag ? { meta: { profile: meta.profile, tag: meta.tag } } : {}),
  } as DirectoryResource);
  await requireValid(deps.store, resource);
  const updated = await withUniqueIdentifiers(deps, resource, resource.id, () =>
    deps.store.update(resource, { ifMatchVersion: version }),
  );
  ctx.touched.push(`${updated.resourceType}/${updated.id}`);
  return updated;
}

/** The body of a create: a resource of the route's type, in the shape base R4 allows. */
function directoryBody(type: DirectoryType, body: unknown): DirectoryResource {
  const resource = body as Partial<DirectoryResource> | null;
  if (typeof resource !== 'object' || resource === null || resource.resourceType !== type) {
    throw new FhirError('malformed', [
      { code: 'structure', diagnostics: `Expected a ${type}`, expression: ['resourceType'] },
    ]);
  }
  requireShape(resource as DirectoryResource);
  return resource as DirectoryResource;
}

/**
 * The whole of what is wrong, in one answer: base R4 (400), then the profile, the directory's
 * rules and the entries it names, looked up together in one round trip (422).
 */
async function requireValid(store: FhirStore, resource: DirectoryResource): Promise<void> {
  const { malformed, issues, links } = directoryIssues(resource);
  if (malformed.length) throw new FhirError('malformed', malformed);
  const found = await searchAll(
    store,
    links.map((link) => ({ type: link.type, query: { _id: link.id, _count: '1' } })),
  );
  links.forEach((link, i) => {
    const target = found[i]?.entry?.find((e) => e.resource?.id === link.id)?.resource;
    if (!target) {
      issues.push({
        code: 'not-found',
        diagnostics: `Names no ${link.type} in the directory`,
        expression: [link.expression],
      });
    } else if (link.type === 'Organization' && (target as { active?: boolean }).active === false) {
      issues.push({
        code: 'business-rule',
        diagnostics: 'Names an organisation that is no longer active',
        expression: [link.expression],
      });
    }
  });
  if (issues.length) throw new FhirError('invalid', issues);
}

/**
 * Runs the write with each of the entry's unique identifiers held (serialising writes that claim
 * the same one), after checking no other entry of its type holds any of them.
 */
async function withUniqueIdentifiers<T>(
  deps: DirectoryDeps,
  resource: DirectoryResource,
  ownId: string | undefined,
  write: () => Promise<T>,
): Promise<T> {
  const identifiers = uniqueIdentifiers(resource);
  if (identifiers.length === 0) return write();
  const type = resource.resourceType;
  // And the import's: an import checks identifiers against what is stored, so none is claimed under it.
  const keys = [
    DIRECTORY_IMPORT_LOCK,
    ...identifiers.map((i) => `Directory|${type}|${canonicalSystem(i)}|${i.value}`),
  ];
  return deps.locks.withLocks(keys, async () => {
    const [found] = await searchAll(deps.store, [
      { type, query: { identifier: identifiers.flatMap(searchValues).join(','), _count: '2' } },
    ]);
    const holder = holderOf(found, ownId);
    if (holder) {
      const issue: Issue = {
        code: 'duplicate',
        diagnostics: `An identifier of this ${type} is already held by ${type}/${holder}; change that one instead`,
        expression: [`${type}.identifier`],
      };
      throw new FhirError('conflict', [issue]);
    }
    return write();
  });
}

function holderOf(found: Bundle | undefined, ownId: string | undefined): string | undefined {
  return (found?.entry ?? []).map((e) => e.resource?.id).find((id) => id && id !== ownId);
}

/** ODS codes are looked for under both spellings of their system. */
function searchValues(identifier: Identifier): string[] {
  const systems = ODS_SYSTEMS.includes(identifier.system ?? '') ? ODS_SYSTEMS : [identifier.system];
  return systems.map((system) => tokenOf({ ...identifier, system }));
}

function canonicalSystem(identifier: Identifier): string | undefined {
  return ODS_SYSTEMS.includes(identifier.system ?? '') ? ODS_SYSTEMS[0] : identifier.system;
}
