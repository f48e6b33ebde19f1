import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Config } from './config.ts';
import { indexDefinitions } from './fhir/definitions.ts';
import { Failures } from './fhir/outcomes.ts';
import { jsonBody } from './http/body.ts';
import type { AppEnv } from './http/env.ts';
import { errorResponse } from './http/errors.ts';
import { negotiateFormat } from './http/negotiate.ts';
import type { Logger } from './logger.ts';
import type { FhirStore } from './medplum/store.ts';
import { requestLog } from './middleware/request-log.ts';
import { createInMemoryReplayStore, type ReplayStore, requestReplay } from './middleware/request-replay.ts';
import { createInProcessLocks, type KeyedLocks } from './referrals/locks.ts';
import type { FhirFeature } from './routes/feature.ts';
import { healthRoutes } from './routes/health.ts';
import { metadataRoutes } from './routes/metadata.ts';
import { referralRoutes } from './routes/referrals.ts';
import { resourceReadRoutes } from './routes/resources.ts';

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
}

const WRITE_METHODS = ['POST', 'PUT', 'PATCH'];

/** Builds the Hono app. No I/O happens here; it only wires routes to their dependencies. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  indexDefinitions();
  const app = new Hono<AppEnv>();

  app.use(requestId({ headerName: 'X-Request-ID', generator: () => deps.newId() }));
  app.use(requestLog(deps.logger));
  app.use(async (c, next) => {
    c.set('baseUrl', deps.config.publicBaseUrl ?? new URL(c.req.url).origin);
    await next();
  });
  app.use(negotiateFormat());
  const body = jsonBody(deps.config.maxBodyBytes);
  app.use(async (c, next) => (WRITE_METHODS.includes(c.req.method) ? body(c, next) : next()));
  const replay = requestReplay(deps.replay ?? createInMemoryReplayStore());
  app.use(async (c, next) => (c.req.method === 'POST' ? replay(c, next) : next()));

  const intake = {
    store: deps.store,
    locks: deps.locks ?? createInProcessLocks(),
    clock: deps.clock,
    newId: deps.newId,
  };
  const referrals = referralRoutes(intake);
  const features: FhirFeature[] = [referrals.fhir, resourceReadRoutes(deps.store)];
  app.route('/', healthRoutes(deps.store));
  app.route('/', metadataRoutes(features, deps.clock));
  for (const feature of features) app.route('/fhir', feature.routes);
  app.route('/', referrals.json);

  app.notFound((c) => errorResponse(Failures.unknownRoute(), c, deps.logger));
  app.onError((err, c) => errorResponse(err, c, deps.logger));
  return app;
}
