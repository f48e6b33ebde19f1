import {
  type CryptoKey,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import { ASSERTION_ALGORITHMS, type RegisteredClient } from './clients.ts';
import type { Principal } from './principal.ts';
import { covers, parseScopes } from './scopes.ts';

/** How the facade signs its own access tokens. */
export const ACCESS_TOKEN_ALGORITHM = 'ES256';
/** Lifetime of an access token, and the furthest ahead a client assertion may expire. */
export const ACCESS_TOKEN_SECONDS = 300;
export const MAX_ASSERTION_SECONDS = 300;
/** Clock skew tolerated on `exp`, `nbf` and `iat`. */
const CLOCK_TOLERANCE_SECONDS = 30;

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** Records assertion ids (`jti`) until they expire: an assertion is good once. */
export interface JtiLedger {
  /** False when this client already used the `jti` and it has not expired yet. */
  claim(clientId: string, jti: string, expiresAt: number): boolean | Promise<boolean>;
}

export interface TokenService {
  clients: ReadonlyMap<string, RegisteredClient>;
  signingKey: SigningKey;
  jtis: JtiLedger;
  clock: () => Date;
}

export type TokenErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'unsupported_grant_type'
  | 'invalid_scope';

/** A refused token request: the RFC 6749 error, and a reason kept for logs (never sent). */
export interface TokenRefusal {
  ok: false;
  error: TokenErrorCode;
  status: 400 | 401;
  reason: string;
  clientId?: string;
}

export interface TokenGrant {
  ok: true;
  clientId: string;
  body: { access_token: string; token_type: 'Bearer'; expires_in: number; scope: string };
}

const refuse = (error: TokenErrorCode, reason: string, clientId?: string): TokenRefusal => ({
  ok: false,
  error,
  status: error === 'invalid_client' ? 401 : 400,
  reason,
  ...(clientId ? { clientId } : {}),
});

/** The facade's key from a private JWK (a secret), or undefined for a malformed one. */
export async function importSigningKey(privateJwk: JWK): Promise<SigningKey> {
  if (privateJwk.kty !== 'EC' || privateJwk.crv !== 'P-256' || !privateJwk.d) {
    throw new Error('The signing key must be a private EC P-256 JWK');
  }
  const { d: _d, ...publicJwk } = privateJwk;
  return {
    kid: privateJwk.kid ?? 'facade',
    privateKey: (await importJWK(privateJwk, ACCESS_TOKEN_ALGORITHM)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, ACCESS_TOKEN_ALGORITHM)) as CryptoKey,
  };
}

/** A new signing key, as the private JWK to keep. */
export async function generateSigningKeyJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ACCESS_TOKEN_ALGORITHM, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: crypto.randomUUID(), alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' };
}

/**
 * An in-process ledger, bounded per client: entries are dropped when they expire, and a client
 * with `maxPerClient` assertions still live is refused until some expire. One client's flood
 * (a bug, or a stolen key) can lock only that client out, never the others.
 */
export function createInMemoryJtiLedger(clock: () => Date, maxPerClient = 10_000): JtiLedger {
  const byClient = new Map<string, Map<string, number>>();
  return {
    claim(clientId, jti, expiresAt) {
      const now = clock().getTime();
      let seen = byClient.get(clientId);
      if (!seen) {
        seen = new Map();
        byClient.set(clientId, seen);
      }
      const until = seen.get(jti);
      if (until !== undefined && until > now) return false;
      if (seen.size >= maxPerClient) {
        for (const [key, expiry] of seen) if (expiry <= now) seen.delete(key);
        if (seen.size >= maxPerClient) return false;
      }
      seen.set(jti, expiresAt);
      return true;
    },
  };
}

/**
 * SMART Backend Services token request (client credentials with a signed JWT assertion):
 * checks the assertion against the client's registered keys, and grants the requested scopes
 * when the registration covers every one of them.
 */
export async function issueAccessToken(
  service: TokenService,
  form: Record<string, string | undefined>,
  urls: { tokenUrl: string; issuer: string },
): Promise<TokenGrant | TokenRefusal> {
  if (form.grant_type !== 'client_credentials') {
    return form.grant_type
      ? refuse('unsupported_grant_type', 'grant type')
      : refuse('invalid_request', 'no grant type');
  }
  if (form.client_assertion_type !== CLIENT_ASSERTION_TYPE || !form.client_assertion) {
    return refuse('invalid_client', 'no JWT client assertion');
  }
  if (!form.scope) return refuse('invalid_scope', 'no scope requested');

  const assertion = form.client_assertion;
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch {
    return refuse('invalid_client', 'assertion does not decode');
  }
  const clientId = typeof unverified.iss === 'string' ? unverified.iss : undefined;
  const client = clientId ? service.clients.get(clientId) : undefined;
  if (!client) return refuse('invalid_client', 'unknown client');
  if (!ASSERTION_ALGORITHMS.includes(header.alg as (typeof ASSERTION_ALGORITHMS)[number])) {
    return refuse('invalid_client', 'algorithm not allowed', client.clientId);
  }
  const key = client.keys.find((k) => k.kid === header.kid);
  if (!key) return refuse('invalid_client', 'no registered key with this kid', client.clientId);
  if (key.alg !== header.alg) return refuse('invalid_client', 'algorithm not pinned to key', client.clientId);

  const now = service.clock();
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    ({ payload } = await jwtVerify(assertion, await importJWK(key.jwk, key.alg), {
      algorithms: [key.alg],
      issuer: client.clientId,
      subject: client.clientId,
      audience: urls.tokenUrl,
      requiredClaims: ['exp', 'jti'],
      currentDate: now,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    }));
  } catch (err) {
    const reason = err instanceof errors.JOSEError ? err.code : 'verification failed';
    return refuse('invalid_client', reason, client.clientId);
  }
  const nowSeconds = Math.floor(now.getTime() / 1000);
  // jose checks `iat` against the clock only when given a maximum age, so an assertion dated
  // ahead of the clock (beyond the skew allowed) is refused here.
  if (typeof payload.iat === 'number' && payload.iat > nowSeconds + CLOCK_TOLERANCE_SECONDS) {
    return refuse('invalid_client', 'assertion issued in the future', client.clientId);
  }
  const exp = payload.exp as number;
  if (exp > nowSeconds + MAX_ASSERTION_SECONDS + CLOCK_TOLERANCE_SECONDS) {
    return refuse('invalid_client', 'assertion valid for too long', client.clientId);
  }
  if (!(await service.jtis.claim(client.clientId, payload.jti as string, exp * 1000))) {
    return refuse('invalid_client', 'assertion replayed', client.clientId);
  }

  const requested = parseScopes(form.scope);
  if (requested.invalid.length || requested.scopes.length === 0) {
    return refuse('invalid_scope', 'unsupported scope', client.clientId);
  }
  if (!requested.scopes.every((s) => covers(client.scopes, s))) {
    return refuse('invalid_scope', 'scope beyond registration', client.clientId);
  }
  const scope = form.scope.split(' ').filter(Boolean).join(' ');
  const accessToken = await new SignJWT({ scope, client_id: client.clientId })
    .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, kid: service.signingKey.kid, typ: 'at+jwt' })
    .setIssuer(urls.issuer)
    .setAudience(urls.issuer)
    .setSubject(client.clientId)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + ACCESS_TOKEN_SECONDS)
    .setJti(crypto.randomUUID())
    .sign(service.signingKey.privateKey);
  return {
    ok: true,
    clientId: client.clientId,
    body: { access_token: accessToken, token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, scope },
  };
}

export type AccessTokenCheck =
  | { ok: true; principal: Principal }
  | { ok: false; expired: boolean; reason: string };

/**
 * Checks a bearer token the facade issued. The client must still be registered; its organisation
 * is taken from the registry, and its scopes are what the token was granted.
 */
export async function verifyAccessToken(
  service: TokenService,
  token: string,
  issuer: string,
): Promise<AccessTokenCheck> {
  try {
    const { payload } = await jwtVerify(token, service.signingKey.publicKey, {
      algorithms: [ACCESS_TOKEN_ALGORITHM],
      issuer,
      audience: issuer,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'sub', 'scope'],
      currentDate: service.clock(),
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    });
    const client = service.clients.get(payload.sub as string);
    if (!client) return { ok: false, expired: false, reason: 'client no longer registered' };
    const { scopes } = parseScopes(String(payload.scope));
    return {
      ok: true,
      principal: {
        clientId: client.clientId,
        organization: client.organization,
        scopes,
        ...(client.operator ? { operator: true } : {}),
      },
    };
  } catch (err) {
    const expired = err instanceof errors.JWTExpired;
    return { ok: false, expired, reason: err instanceof errors.JOSEError ? err.code : 'invalid' };
  }
}
