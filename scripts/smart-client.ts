/**
 * The client side of SMART Backend Services, as a GP system or a link worker's tool does it:
 * sign a short-lived JWT assertion with the client's private key, exchange it for an access token.
 * Used by `npm run examples`, the benchmarks and the tests, with the test-only keys in
 * examples/auth/.
 */
import { importJWK, type JWK, SignJWT } from 'jose';

export interface ClientKey {
  clientId: string;
  jwk: JWK;
}

export interface AssertionOptions {
  /** Seconds until the assertion expires (default 60). */
  expiresIn?: number;
  jti?: string;
  audience?: string;
  issuer?: string;
  now?: Date;
}

/** A client assertion (RFC 7523) for the token endpoint. */
export async function clientAssertion(key: ClientKey, tokenUrl: string, options: AssertionOptions = {}) {
  const alg = key.jwk.alg as string;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg, kid: key.jwk.kid as string, typ: 'JWT' })
    .setIssuer(options.issuer ?? key.clientId)
    .setSubject(key.clientId)
    .setAudience(options.audience ?? tokenUrl)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 60))
    .setJti(options.jti ?? crypto.randomUUID())
    .sign(await importJWK(key.jwk, alg));
}

/** The form a token request posts. */
export function tokenForm(assertion: string, scope: string): string {
  return new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
    scope,
  }).toString();
}

/** Obtains an access token from the service at `baseUrl`; throws with the OAuth error otherwise. */
export async function getAccessToken(
  send: (request: Request) => Promise<Response> | Response,
  baseUrl: string,
  key: ClientKey,
  scope: string,
): Promise<string> {
  const tokenUrl = `${baseUrl}/oauth2/token`;
  const response = await send(
    new Request(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: tokenForm(await clientAssertion(key, tokenUrl), scope),
    }),
  );
  const body = (await response.json()) as { access_token?: string; error?: string };
  if (!response.ok || !body.access_token) throw new Error(`token request refused: ${body.error}`);
  return body.access_token;
}
