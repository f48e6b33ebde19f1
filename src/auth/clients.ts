import * as z from 'zod';
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
  keys: ClientKey[];
  /** Registered as the deployment's operator: reads the whole audit trail its scopes name. */
  operator: boolean;
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
  .refine((k) => k.kty === 'RSA' || k.crv === 'P-384', { message: 'EC keys must be on P-384 (ES384)' })
  .refine((k) => !k.alg || (k.alg === 'RS384') === (k.kty === 'RSA'), {
    message: 'does not fit its algorithm',
  });

const Registration = z.object({
  clientId: z.string().min(1).max(200),
  organization: z.string().regex(/^[A-Z0-9]{3,10}$/, 'an ODS code'),
  scopes: z
    .array(
      z.string().refine((text) => parseScope(text) !== undefined, {
        error: (issue) => `${JSON.stringify(issue.input)} is not a supported system scope`,
      }),
    )
    .min(1),
  jwks: z.object({ keys: z.array(PublicJwk).min(1) }),
  operator: z.boolean().optional(),
});

const Registry = z.object({ clients: z.array(Registration) }).superRefine((registry, ctx) => {
  const ids = new Set<string>();
  for (const [index, client] of registry.clients.entries()) {
    if (ids.has(client.clientId)) {
      ctx.addIssue({ code: 'custom', path: ['clients', index, 'clientId'], message: 'registered twice' });
    }
    ids.add(client.clientId);
    const kids = new Set<string>();
    for (const key of client.jwks.keys) {
      if (kids.has(key.kid)) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', index, 'jwks'],
          message: `kid ${key.kid} is used twice`,
        });
      }
      kids.add(key.kid);
    }
  }
});

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
  const clients = new Map<string, RegisteredClient>();
  for (const registration of result.data.clients) {
    clients.set(registration.clientId, {
      clientId: registration.clientId,
      organization: registration.organization,
      scopes: registration.scopes.map((text) => parseScope(text) as Scope),
      operator: registration.operator === true,
      keys: registration.jwks.keys.map((jwk) => ({
        kid: jwk.kid,
        alg: jwk.alg ?? (jwk.kty === 'RSA' ? 'RS384' : 'ES384'),
        jwk: jwk as ClientKey['jwk'],
      })),
    });
  }
  return clients;
}
