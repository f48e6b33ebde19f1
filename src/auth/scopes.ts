import type { TypeInteraction } from '../fhir/capability-statement.ts';
import { dataClassOf } from '../fhir/resource-types.ts';

/**
 * SMART on FHIR system scopes (App Launch v2, with the v1 forms accepted as their equivalents):
 * `system/<Type|*>.<cruds>` and `system/<Type|*>.<read|write|*>`. Scopes with query parameters
 * (`system/Observation.rs?category=...`) are not supported and never parse.
 */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface Scope {
  /** A resource type, or `*` for all of them. */
  type: string;
  permissions: ReadonlySet<Permission>;
}

const ORDER: readonly Permission[] = ['c', 'r', 'u', 'd', 's'];
const V1: Record<string, readonly Permission[]> = {
  read: ['r', 's'],
  write: ['c', 'u', 'd'],
  '*': ORDER,
};

/** One scope, or undefined when it is not a system scope this service understands. */
export function parseScope(text: string): Scope | undefined {
  const match = /^system\/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)$/.exec(text);
  if (!match) return undefined;
  const [, type, access] = match as unknown as [string, string, string];
  const v1 = V1[access];
  if (v1) return { type, permissions: new Set(v1) };
  // v2: a non-empty subsequence of c, r, u, d, s in that order.
  let at = 0;
  const permissions = new Set<Permission>();
  for (const letter of access) {
    const index = ORDER.indexOf(letter as Permission, at);
    if (index < 0) return undefined;
    permissions.add(letter as Permission);
    at = index + 1;
  }
  return permissions.size ? { type, permissions } : undefined;
}

/** Splits a space-separated scope string; reports what does not parse. */
export function parseScopes(text: string): { scopes: Scope[]; invalid: string[] } {
  const scopes: Scope[] = [];
  const invalid: string[] = [];
  for (const part of text.split(' ').filter(Boolean)) {
    const scope = parseScope(part);
    if (scope) scopes.push(scope);
    else invalid.push(part);
  }
  return { scopes, invalid };
}

/**
 * What a wildcard scope (`system/*.…`) grants on a type, by the type's class: every permission on
 * personal data (tenancy still narrows it to the caller's organisation), reading and searching the
 * directory, and nothing on the audit trail or a type with no class. Directory and operator writes
 * need a scope naming the type: a wildcard meant for a practice's records never edits the directory.
 */
function wildcardGrants(type: string, permission: Permission): boolean {
  const kind = dataClassOf(type);
  if (kind === 'personal') return true;
  return (kind === 'directory' || kind === 'contract') && (permission === 'r' || permission === 's');
}

const grants = (scope: Scope, type: string, permission: Permission) =>
  scope.permissions.has(permission) &&
  (scope.type === type || (scope.type === '*' && wildcardGrants(type, permission)));

/** Whether the scopes grant `permission` on `type`. */
export function allows(scopes: readonly Scope[], type: string, permission: Permission): boolean {
  return scopes.some((s) => grants(s, type, permission));
}

/** Whether everything `requested` asks for is granted by `granted` (a scope is never widened). */
export function covers(granted: readonly Scope[], requested: Scope): boolean {
  for (const permission of requested.permissions) {
    if (requested.type === '*') {
      // A wildcard asked for is granted as far as a wildcard was registered.
      if (!granted.some((g) => g.type === '*' && g.permissions.has(permission))) return false;
    } else if (!allows(granted, requested.type, permission)) return false;
  }
  return true;
}

/** A scope as text (`system/<Type>.<cruds>`), which `parseScope` reads back as the same scope. */
export function formatScope(scope: Scope): string {
  return `system/${scope.type}.${ORDER.filter((p) => scope.permissions.has(p)).join('')}`;
}

/**
 * Why a scope with a query (SMART v2 granular, `system/Task.rs?status=requested`) is refused, in
 * the words the SMART configuration and the CapabilityStatement give.
 */
export const GRANULAR_SCOPES_REFUSED =
  'Scopes with a query (SMART granular scopes, such as system/Task.rs?status=requested) are refused as invalid_scope: a token narrowed by a query would have to narrow every read, search, include, history, operation and write alike, and a narrowing missed in one of them would show what the token was meant to hide. Ask for the type, and narrow the searches instead.';

/** The scope letter each interaction is checked against. */
export const PERMISSION_OF: Partial<Record<TypeInteraction, Permission>> = {
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  'history-type': 'r',
  'search-type': 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
};

/**
 * The scopes worth asking for, from what is served: for each type, the letters of the
 * interactions it answers (so no delete, which nothing serves); for a wildcard, the letters it
 * grants on some served type, and its read-only form. The published contract is read without a
 * token, so it needs none.
 */
export function scopesSupported(
  served: readonly { type: string; interactions: readonly TypeInteraction[] }[],
): string[] {
  const letters = new Map<string, Set<Permission>>();
  for (const { type, interactions } of served) {
    if (dataClassOf(type) === undefined || dataClassOf(type) === 'contract') continue;
    const permissions = new Set(interactions.flatMap((i) => PERMISSION_OF[i] ?? []));
    if (permissions.size) letters.set(type, permissions);
  }
  const wildcard = new Set(
    ORDER.filter((p) => [...letters].some(([type, granted]) => granted.has(p) && wildcardGrants(type, p))),
  );
  const readOnly = new Set([...wildcard].filter((p) => p === 'r' || p === 's'));
  return [
    ...[...letters].map(([type, permissions]) => formatScope({ type, permissions })),
    ...[wildcard, readOnly]
      .filter((p) => p.size)
      .map((permissions) => formatScope({ type: '*', permissions })),
  ].filter((scope, i, all) => all.indexOf(scope) === i);
}
