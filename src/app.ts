import { Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { type AuditSink, createStoreAuditSink } from './audit/audit-sink.ts';
import type { AuthMode } from './auth/mode.ts';
import { scopesSupported } from './auth/scopes.ts';
import { type Config, ConfigError } from './config.ts';
import { servedInteractions } from './fhir/capability-statement.ts';
import { indexDefinitions } from './fhir/definitions.ts';
import { Failures } from './fhir/outcomes.ts';
import { NO_PUBLISHED_PROFILES, type PublishedProfileSource } from './fhir/published-profiles.ts';
import { allowedMethods } from './http/allowed-methods.ts';
import { jsonBody } from './http/body.ts';
import { CostlyGate } from './http/costly-gate.ts';
import type { AppEnv, CallerAddress } from './http/env.ts';
import { errorResponse } from './http/errors.ts';
import { negotiateFormat } from './http/negotiate.ts';
import { plainQuery, writeQuery } from './http/query.ts';
import type { Logger } from './logger.ts';
import type { FhirStore } from './medplum/store.ts';
import { audit } from './middleware/audit.ts';
import { authenticate } from './middleware/authenticate.ts';
import { createInProcessRateLimiter, type RateLimiter, rateLimit } from './middleware/rate-limit.ts';
import { requestLog } from './middleware/request-log.ts';
import { createInMemoryReplayStore, type ReplayStore, requestReplay } from './middleware/request-replay.ts';
import type { AsyncIntakeDeps } from './referrals/async-intake.ts';
import { createInProcessLocks, type KeyedLocks } from './referrals/locks.ts';
import { authRoutes } from './routes/auth.ts';
import { carePlanRoutes } from './routes/care-plans.ts';
import { contractRoutes } from './routes/contract.ts';
import { directoryRoutes } from './routes/directory.ts';
import type { FhirFeature } from './routes/feature.ts';
import { healthRoutes } from './routes/health.ts';
import { metadataRoutes } from './routes/metadata.ts';
import { referralRoutes } from './routes/referrals.ts';
import { resourceReadRoutes } from './routes/resources.ts';
import { subscriptionRoutes } from './routes/subscriptions.ts';
import { taskRoutes } from './routes/tasks.ts';
import type { SubscriptionDeps } from './subscriptions/subscriptions.ts';

/** Everything the app needs from outside; tests pass their own. */
export interface AppDeps {
  config: Config;
  /** The Medplum port: a remote Medplum or the embedded one. */
  store: FhirStore;
  clock: () => Date;
  newId: () => string;
  logger: Logger;
  /** Serialises intake of the same referral or person; in-process unless a shared one is given. */
  locks?: KeyedLocks;
  /** Responses kept for repeated X-Request-IDs; in-process unless a shared one is given. */
  replay?: ReplayStore;
  /** How callers authenticate; the open local mode unless given. */
  auth?: AuthMode;
  /** Per-client request allowance; in-process (RATE_LIMIT_PER_MINUTE) unless a platform one is given. */
  rateLimiter?: RateLimiter;
  /**
   * The token endpoint's allowance per caller address, apart from the clients' so that neither
   * can use up the other; in-process (RATE_LIMIT_PER_MINUTE) unless a platform one is given.
   */
  tokenRateLimiter?: RateLimiter;
  /** Where a request came from, as the platform says (never a header anyone could send). */
  callerAddress?: CallerAddress;
  /** Where AuditEvents go; the FHIR store unless given. */
  audit?: AuditSink;
  /** Where `Prefer: respond-async` referrals are queued and their jobs kept; answered at once without. */
  asyncIntake?: AsyncIntakeDeps;
  /** Where the full published profiles are read; the slim copies are served without. */
  publishedProfiles?: PublishedProfileSource;
  /**
   * Subscriptions, where notifications are wired (a change feed on the store, and an outbox that
   * delivers them); without it, Subscription is not served.
   */
  subscriptions?: SubscriptionDeps;
}

const WRITE_METHODS = ['POST', 'PUT', 'PATCH'];

/** Builds the Hono app. No I/O happens here; it only wires routes to their dependencies. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  indexDefinitions();
  // Not strict: `[base]/` is `[base]` (FHIR clients post transactions to the base with a slash).
  const app = new Hono<AppEnv>({ strict: false });

  const auth = deps.auth ?? { kind: 'open' };
  const publicBaseUrl = deps.config.publicBaseUrl;
  // Tokens name the facade as issuer and audience: taken from a request's Host, anyone could
  // have a token minted for a host of their choosing.
  if (auth.kind === 'tokens' && !publicBaseUrl) {
    throw new ConfigError([
      "PUBLIC_BASE_URL: required when API clients are registered; tokens are issued for it, never for a request's Host",
    ]);
  }
  // `/x/*` matches `/x` itself too.
  const protectedPaths = ['/fhir/*', '/referrals/*', '/care-team/*'];

  app.use(requestId({ headerName: 'X-Request-ID', generator: () => deps.newId() }));
  app.use(requestLog(deps.logger));
  app.use(async (c, next) => {
    c.set('baseUrl', publicBaseUrl ?? new URL(c.req.url).origin);
    await next();
  });
  app.use(secureHeaders());
  // No FHIR path holds a `*`; matched literally, Hono's wildcard patterns would run their
  // middleware twice (and read the body twice).
  app.use(async (c, next) => {
    if (c.req.path.includes('*')) throw Failures.unknownRoute();
    await next();
  });
  if (deps.config.corsOrigins.length) {
    const allowed = deps.config.corsOrigins;
    app.use(
      cors({
        origin: (origin) => (allowed.includes(origin) ? origin : null),
        allowHeaders: [
          'Authorization',
          'Content-Type',
          'Accept',
          'X-Request-ID',
          'Prefer',
          'If-Match',
          'If-None-Match',
          'If-None-Exist',
          'If-Modified-Since',
        ],
        allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
        exposeHeaders: [
          'Location',
          'Content-Location',
          'ETag',
          'Last-Modified',
          'X-Request-ID',
          'Retry-After',
        ],
        maxAge: 600,
      }),
    );
  }
  const rateLimiter =
    deps.rateLimiter ?? createInProcessRateLimiter(deps.config.rateLimitPerMinute, deps.clock);
  const tokenRateLimiter =
    deps.tokenRateLimiter ?? createInProcessRateLimiter(deps.config.rateLimitPerMinute, deps.clock);
  const intake = {
    store: deps.store,
    locks: deps.locks ?? createInProcessLocks(),
    clock: deps.clock,
    newId: deps.newId,
  };
  const referrals = referralRoutes(intake, intake, deps.asyncIntake);
  const tasks = taskRoutes({ store: deps.store, clock: deps.clock });
  const carePlans = carePlanRoutes(intake);
  // What the mounted routes take of a type, for `$validate`'s create and update modes.
  const declares = (type: string, interaction: 'create' | 'update') =>
    served.some((s) => s.type === type && s.interactions.includes(interaction));
  const features: FhirFeature[] = [
    contractRoutes(deps.clock, deps.publishedProfiles ?? NO_PUBLISHED_PROFILES, (type) => ({
      create: declares(type, 'create'),
      update: declares(type, 'update'),
    })),
    referrals.fhir,
    tasks.fhir,
    carePlans.fhir,
    directoryRoutes(intake),
    ...(deps.subscriptions ? [subscriptionRoutes(deps.subscriptions)] : []),
    resourceReadRoutes(deps.store),
  ];
  const served = servedInteractions(features.flatMap((f) => f.capabilities));
  app.route(
    '/',
    authRoutes(auth, deps.logger, {
      baseUrl: publicBaseUrl,
      limiter: tokenRateLimiter,
      callerAddress: deps.callerAddress,
      scopesSupported: scopesSupported(served),
    }),
  );
  app.use(negotiateFormat());

  app.route('/', healthRoutes(deps.store));
  app.route('/', metadataRoutes(features, deps.clock, auth, { cors: deps.config.corsOrigins.length > 0 }));

  // Everything below touches patient data: who is asking, how often, and an audit record of it.
  const authenticated = authenticate(auth, deps.logger);
  // Limits are per registered client; the open local mode has none to tell apart.
  const limited: MiddlewareHandler<AppEnv> =
    auth.kind === 'open' ? (_c, next) => next() : rateLimit(rateLimiter);
  const audited = audit(deps.audit ?? createStoreAuditSink(deps.store, deps.logger), deps.clock);
  const body = jsonBody(deps.config.maxBodyBytes, new CostlyGate());
  const replay = requestReplay(deps.replay ?? createInMemoryReplayStore());
  for (const path of protectedPaths) {
    app.use(path, authenticated, audited, limited);
    // Answered by the routes' methods, known once every route is mounted (`allowed`, below).
    const serves = (method: string, at: string) => allowed(at).includes(method);
    app.use(path, path === '/fhir/*' ? writeQuery(serves) : plainQuery(serves));
    // A search by POST carries a form, not a resource.
    app.use(path, async (c, next) =>
      WRITE_METHODS.includes(c.req.method) && !c.req.path.endsWith('/_search') ? body(c, next) : next(),
    );
    // A search by POST changes nothing, so it is not held to its X-Request-ID as a write is.
    app.use(path, async (c, next) =>
      c.req.method === 'POST' && !c.req.path.endsWith('/_search') ? replay(c, next) : next(),
    );
  }
  for (const feature of features) app.route('/fhir', feature.routes);
  app.route('/', referrals.json);
  app.route('/', tasks.json);
  app.route('/', carePlans.json);

  const allowed = allowedMethods(app);
  app.notFound((c) => {
    const methods = allowed(c.req.path);
    if (methods.length === 0) return errorResponse(Failures.unknownRoute(), c, deps.logger);
    const allow = [...methods, 'OPTIONS'].join(', ');
    if (c.req.method === 'OPTIONS') return c.body(null, 204, { Allow: allow });
    return errorResponse(Failures.methodNotAllowed(c.req.method, allow), c, deps.logger);
  });
  app.onError((err, c) => errorResponse(err, c, deps.logger));
  return app;
}
