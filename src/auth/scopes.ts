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
