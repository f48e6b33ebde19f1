/**
 * Cloudflare Workers entry: the same app as `npm start`, in front of a real Medplum reached with
 * client credentials (MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID, MEDPLUM_CLIENT_SECRET).
 */
import type { ExecutionContext, Hono } from 'hono';
import { createApp } from './app.ts';
import { ConfigError, parseConfig } from './config.ts';
import { indexDefinitions } from './fhir/definitions.ts';
import { operationOutcome } from './fhir/outcomes.ts';
import type { AppEnv } from './http/env.ts';
import { createJsonLogger } from './logger.ts';
import { createMedplumClient, createMedplumStore } from './medplum/store.ts';

// Indexing runs in the isolate's start-up phase, not in the first request's CPU time.
indexDefinitions();

type WorkerEnv = Record<string, unknown>;

let built: { env: WorkerEnv; app: Hono<AppEnv> } | undefined;

/** One app (and one Medplum client, with its token) per isolate and set of bindings. */
function appFor(env: WorkerEnv): Hono<AppEnv> {
  if (built?.env === env) return built.app;
  const config = parseConfig(env, { requireMedplum: true });
  const medplum = config.medplum as NonNullable<typeof config.medplum>;
  const client = createMedplumClient({ ...medplum, timeoutMs: config.upstreamTimeoutMs });
  const app = createApp({
    config,
    store: createMedplumStore(client),
    clock: () => new Date(),
    newId: () => crypto.randomUUID(),
    logger: createJsonLogger(config.logLevel),
  });
  built = { env, app };
  return app;
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    let app: Hono<AppEnv>;
    try {
      app = appFor(env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      console.error(JSON.stringify({ level: 'error', event: 'config.invalid', problems: err.problems }));
      const outcome = operationOutcome([{ code: 'exception', diagnostics: 'The service is not configured' }]);
      return new Response(JSON.stringify(outcome), {
        status: 500,
        headers: { 'Content-Type': 'application/fhir+json; charset=utf-8' },
      });
    }
    return app.fetch(request, env, ctx);
  },
};
