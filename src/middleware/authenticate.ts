import type { MiddlewareHandler } from 'hono';
import type { AuthMode } from '../auth/mode.ts';
import { OPEN_LOCAL_PRINCIPAL } from '../auth/principal.ts';
import { verifyAccessToken } from '../auth/tokens.ts';
import { QUESTIONNAIRES } from '../care-plans/outcomes.ts';
import { FhirError } from '../fhir/outcomes.ts';
import type { AppEnv } from '../http/env.ts';
import type { Logger } from '../logger.ts';

/** What anyone may read: the CapabilityStatement, SMART discovery, and the published contract. */
const OPEN_PATHS =
  /^\/fhir\/(metadata|\.well-known\/smart-configuration|(StructureDefinition|ValueSet|CodeSystem)|(StructureDefinition|ValueSet|CodeSystem|OperationDefinition)\/[^/]+(\/\$expand)?)$/;

/**
 * The outcome measures' Questionnaires are contract too, read by those who fill them in; only
 * the served ones, by id: any other Questionnaire is a stored resource, behind a token.
 */
const OPEN_QUESTIONNAIRES = new Set(QUESTIONNAIRES.map((q) => `/fhir/Questionnaire/${q.id}`));

function isOpen(method: string, path: string): boolean {
  // A trailing slash names the same path (the app is not strict about it).
  const bare = path.endsWith('/') ? path.slice(0, -1) : path;
  return OPEN_PATHS.test(path) || ((method === 'GET' || method === 'HEAD') && OPEN_QUESTIONNAIRES.has(bare));
}

/**
 * Puts the request context (who is asking) on every FHIR and plain-JSON request, from a bearer
 * token the facade issued; 401 with `WWW-Authenticate` without a valid one. The reason a token
 * was refused is logged, never sent.
 */
export function authenticate(mode: AuthMode, logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (isOpen(c.req.method, c.req.path)) return next();
    const requestId = c.get('requestId');
    if (mode.kind === 'open') {
      c.set('ctx', { requestId, principal: OPEN_LOCAL_PRINCIPAL, touched: [] });
      return next();
    }
    if (mode.kind === 'unconfigured') {
      logger.error('auth.unconfigured', { requestId });
      throw new FhirError('not-configured', [
        {
          code: 'security',
          diagnostics: 'No API clients are registered with this service, so it serves none',
        },
      ]);
    }
    const realm = `Bearer realm="${c.get('baseUrl')}/fhir"`;
    const token = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(c.req.header('authorization') ?? '')?.[1];
    if (!token) {
      throw new FhirError(
        'unauthenticated',
        [{ code: 'login', diagnostics: 'An access token is required' }],
        {
          'WWW-Authenticate': realm,
        },
      );
    }
    const check = await verifyAccessToken(mode.service, token, c.get('baseUrl'));
    if (!check.ok) {
      logger.info('auth.token-refused', { requestId, reason: check.reason });
      throw new FhirError(
        'unauthenticated',
        [
          check.expired
            ? { code: 'expired', diagnostics: 'The access token has expired' }
            : { code: 'login', diagnostics: 'The access token is not valid' },
        ],
        { 'WWW-Authenticate': `${realm}, error="invalid_token"` },
      );
    }
    c.set('ctx', { requestId, principal: check.principal, touched: [] });
    return next();
  };
}
