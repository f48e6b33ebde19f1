import { parseClientRegistry } from './clients.ts';
import { createInMemoryJtiLedger, importSigningKey, type JtiLedger, type TokenService } from './tokens.ts';

/**
 * How requests are authenticated:
 * - `tokens`: clients are registered; every FHIR and plain-JSON request needs an access token.
 * - `open`: `npm start` with no clients, for trying the service on loopback; no tenancy.
 * - `unconfigured`: a deployment with no clients; FHIR routes are refused (fail closed).
 */
export type AuthMode =
  | { kind: 'tokens'; service: TokenService }
  | { kind: 'open' }
  | { kind: 'unconfigured' };

export interface AuthSettings {
  /** The client registry JSON, if any. */
  clients: string | undefined;
  /** The facade's private signing JWK (JSON). */
  signingKey: string | undefined;
  /** Whether running with no clients means the open local mode (Node) or refusing (Workers). */
  openWhenUnconfigured: boolean;
  clock: () => Date;
  jtis?: JtiLedger;
}

/** Builds the auth mode; throws ClientRegistryError (or Error for the key) on bad settings. */
export async function createAuthMode(settings: AuthSettings): Promise<AuthMode> {
  if (!settings.clients) return settings.openWhenUnconfigured ? { kind: 'open' } : { kind: 'unconfigured' };
  const clients = parseClientRegistry(settings.clients);
  if (!settings.signingKey) throw new Error('AUTH_SIGNING_KEY is required when clients are registered');
  let jwk: unknown;
  try {
    jwk = JSON.parse(settings.signingKey);
  } catch {
    throw new Error('AUTH_SIGNING_KEY is not valid JSON');
  }
  let signingKey: Awaited<ReturnType<typeof importSigningKey>>;
  try {
    signingKey = await importSigningKey(jwk as Parameters<typeof importSigningKey>[0]);
  } catch {
    throw new Error('AUTH_SIGNING_KEY is not a private EC P-256 JWK');
  }
  return {
    kind: 'tokens',
    service: {
      clients,
      signingKey,
      jtis: settings.jtis ?? createInMemoryJtiLedger(settings.clock),
      clock: settings.clock,
    },
  };
}
