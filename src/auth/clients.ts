import { z } from 'zod';
import { parseScope, type Scope } from './scopes.ts';

/** The signing algorithms client assertions may use (SMART Backend Services asks for both). */
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384'] as const;
export type AssertionAlgorithm = (typeof ASSERTION_ALGORITHMS)[number];

/** A registered client's public key, pinned to one algorithm. */
export interface ClientKey {
  kid: string;
  alg: AssertionAlgorithm;
  jwk: JsonWebKey & { kid: string };
}

export interface RegisteredClient {
  clientId: string;
  /** ODS code of the organisation the client acts for. */
  organization: string;
  scopes: Scope[];
  /** The registered scope strings, as given. */
  scopeText: string[];
  keys: ClientKey[];
}

const PublicJwk = z
  .looseObject({
    kty: z.enum(['RSA', 'EC']),
    kid: z.string().min(1),
    alg: z.enum(ASSERTION_ALGORITHMS).optional(),
    crv: z.string().optional(),
    n: z.string().optional(),
    e: z.string().optional(),
    x: z.string().optional(),
    y: z.string().optional(),
  })
  .refine((k) => !('d' in k || 'p' in k || 'q' in k || 'k' in k), {
    message: 'must be a public key (it holds private key material)',
  })
  .refine((k) => k.kty === 'RSA' || k.crv === 'P-384', { message: 'EC keys must be on P-384 (ES384)' });

const Registration = z.object({
  clientId: z.string().min(1).max(200),
  organization: z.string().regex(/^[A-Z0-9]{3,10}$/, 'an ODS code'),
  scopes: z.array(z.string()).min(1),
  jwks: z.object({ keys: z.array(PublicJwk).min(1) }),
});

const Registry = z.object({ clients: z.array(Registration) });

/** Every problem with a client registry, reported together; keys are never echoed. */
export class ClientRegistryError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid client registry:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ClientRegistryError';
    this.problems = problems;
  }
}

/** Reads the registry JSON (`{ "clients": [...] }`) into clients by id. */
export function parseClientRegistry(text: string): Map<string, RegisteredClient> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ClientRegistryError(['not valid JSON']);
  }
  const result = Registry.safeParse(json);
  if (!result.success) {
    throw new ClientRegistryError(
      result.error.issues.map((i) => `${i.path.join('.') || '(registry)'}: ${i.message}`),
    );
  }
  const problems: string[] = [];
  const clients = new Map<string, RegisteredClient>();
  for (const [index, registration] of result.data.clients.entries()) {
    if (clients.has(registration.clientId)) problems.push(`clients.${index}.clientId: registered twice`);
    const scopes: Scope[] = [];
    for (const text of registration.scopes) {
      const scope = parseScope(text);
      if (scope) scopes.push(scope);
      else problems.push(`clients.${index}.scopes: ${JSON.stringify(text)} is not a supported system scope`);
    }
    const kids = new Set<string>();
    const keys: ClientKey[] = registration.jwks.keys.map((jwk) => {
      if (kids.has(jwk.kid)) problems.push(`clients.${index}.jwks: kid ${jwk.kid} is used twice`);
      kids.add(jwk.kid);
      const alg = jwk.alg ?? (jwk.kty === 'RSA' ? 'RS384' : 'ES384');
      if ((alg === 'RS384') !== (jwk.kty === 'RSA')) {
        problems.push(`clients.${index}.jwks: key ${jwk.kid} does not fit its algorithm ${alg}`);
      }
      return { kid: jwk.kid, alg, jwk: jwk as ClientKey['jwk'] };
    });
    clients.set(registration.clientId, {
      clientId: registration.clientId,
      organization: registration.organization,
      scopes,
      scopeText: registration.scopes,
      keys,
    });
  }
  if (problems.length) throw new ClientRegistryError(problems);
  return clients;
}
