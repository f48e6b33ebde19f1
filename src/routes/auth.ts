import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { exportJWK, type JWK } from 'jose';
import { ASSERTION_ALGORITHMS } from '../auth/clients.ts';
import type { AuthMode } from '../auth/mode.ts';
import { GRANULAR_SCOPES_REFUSED } from '../auth/scopes.ts';
import {
  ACCESS_TOKEN_ALGORITHM,
  issueAccessToken,
  type SigningKey,
  type TokenErrorCode,
} from '../auth/tokens.ts';
import type { AppEnv, CallerAddress } from '../http/env.ts';
import type { Logger } from '../logger.ts';
import type { RateLimiter } from '../middleware/rate-limit.ts';

/** What each token error tells the client: fixed wording, nothing an attacker can learn from. */
const ERROR_DESCRIPTIONS: Record<TokenErrorCode, string> = {
  invalid_request: 'The token request is malformed',
  invalid_client: 'Client authentication failed',
  unsupported_grant_type: 'Only the client_credentials grant is supported',
  invalid_scope: 'The requested scope is invalid or exceeds what the client is registered for',
};

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/** Where the facade's public signing key is served, as a JWK Set (RFC 7517). */
export const JWKS_PATH = '/.well-known/jwks.json';

export interface AuthRouteOptions {
  /**
   * The configured public base URL: the issuer of tokens and the audience assertions must name.
   * Required with clients registered; without, the discovery document names the request's origin.
   */
  baseUrl: string | undefined;
  /** The token endpoint's own limit, by caller address; none when absent. */
  limiter?: RateLimiter;
  /** Where a request came from; every caller shares one allowance when the platform says nothing. */
  callerAddress?: CallerAddress;
  /** The scopes worth asking for, generated from what the routes serve (scopesSupported). */
  scopesSupported: readonly string[];
}

/**
 * SMART Backend Services: the discovery document (at the root and under the FHIR base, where
 * SMART clients look) and the token endpoint. Nothing here is served in the open local mode.
 */
export function authRoutes(mode: AuthMode, logger: Logger, options: AuthRouteOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  if (mode.kind === 'open') return app;
  const { limiter, callerAddress } = options;
  if (mode.kind === 'tokens' && !options.baseUrl) {
    throw new Error('The token endpoint needs the public base URL when clients are registered');
  }

  const configuration = (baseUrl: string) => ({
    // SMART 2 asks for `issuer` only with sso-openid-connect; RFC 8414 requires it of every
    // authorization server, and it is the `iss` of the access tokens that jwks_uri verifies.
    issuer: baseUrl,
    ...(mode.kind === 'tokens' ? { jwks_uri: `${baseUrl}${JWKS_PATH}` } : {}),
    token_endpoint: `${baseUrl}/oauth2/token`,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
    grant_types_supported: ['client_credentials'],
    scopes_supported: [...options.scopesSupported],
    // Granular scopes (with a query) are refused as invalid_scope; SMART has no property to say
    // so, so the reason is given here in words, and in the CapabilityStatement's security.
    scopes_not_supported: GRANULAR_SCOPES_REFUSED,
    // Backend Services has no authorization endpoint, so no response type is offered; an empty
    // list says so (SMART 2.2.0 makes authorization_endpoint conditional on launch-ehr or
    // launch-standalone, neither offered, so it is absent: FHIR-44918).
    response_types_supported: [],
    // Required by SMART 2 whatever the capabilities; no PKCE flow runs here, but S256 is what it asks.
    code_challenge_methods_supported: ['S256'],
    // v2 scopes as `system/<Type>.<cruds>`, and v1 as their equivalents.
    capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
  });
  for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
    app.get(path, (c) => c.json(configuration(options.baseUrl ?? c.get('baseUrl'))));
  }
  // The public half of the key the facade signs its access tokens with, so that a resource
  // server in front of or beside it can verify them.
  if (mode.kind === 'tokens') {
    // Made on first request, so that a key that cannot be exported fails that request, not start-up.
    let jwks: Promise<{ keys: JWK[] }> | undefined;
    app.get(JWKS_PATH, async (c) => {
      jwks ??= publicJwks(mode.service.signingKey);
      return c.json(await jwks, 200, { 'Cache-Control': 'public, max-age=300' });
    });
  }

  app.post(
    '/oauth2/token',
    bodyLimit({
      maxSize: 16 * 1024,
      onError: (c) => c.json({ error: 'invalid_request', error_description: 'Too large' }, 413, NO_STORE),
    }),
    async (c) => {
      const refuse = (error: TokenErrorCode, status: 400 | 401, description = ERROR_DESCRIPTIONS[error]) =>
        c.json({ error, error_description: description }, status, NO_STORE);
      // Limited by where requests come from, before any work: who they claim to be is not yet known.
      const address = callerAddress?.(c) ?? 'unknown';
      if (limiter && !(await limiter.limit({ key: `token-endpoint ${address}` })).success) {
        return c.json(
          { error: 'invalid_request', error_description: 'Too many token requests; slow down' },
          429,
          { ...NO_STORE, 'Retry-After': '60' },
        );
      }
      const mediaType = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
      if (mediaType !== 'application/x-www-form-urlencoded') return refuse('invalid_request', 400);
      if (mode.kind === 'unconfigured' || !options.baseUrl) return refuse('invalid_client', 401);
      const form = new URLSearchParams(await c.req.text());
      const fields: Record<string, string | undefined> = {};
      for (const name of ['grant_type', 'client_assertion_type', 'client_assertion', 'scope']) {
        if (form.getAll(name).length > 1) return refuse('invalid_request', 400);
        fields[name] = form.get(name) ?? undefined;
      }
      const result = await issueAccessToken(mode.service, fields, {
        tokenUrl: `${options.baseUrl}/oauth2/token`,
        issuer: options.baseUrl,
      });
      if (!result.ok) {
        logger.info('auth.token-refused', {
          requestId: c.get('requestId'),
          clientId: result.clientId,
          error: result.error,
          reason: result.reason,
        });
        // A scope with a query is refused for what it is, not as a scope beyond the registration.
        const granular = result.error === 'invalid_scope' && (fields.scope ?? '').includes('?');
        return refuse(result.error, result.status, granular ? GRANULAR_SCOPES_REFUSED : undefined);
      }
      logger.info('auth.token-issued', { requestId: c.get('requestId'), clientId: result.clientId });
      return c.json(result.body, 200, NO_STORE);
    },
  );
  return app;
}

/** The signing key's public half as a JWK Set: the key id and algorithm tokens name, nothing private. */
async function publicJwks(key: SigningKey): Promise<{ keys: JWK[] }> {
  const { kty, crv, x, y } = await exportJWK(key.publicKey);
  return { keys: [{ kty, crv, x, y, kid: key.kid, alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' }] };
}
