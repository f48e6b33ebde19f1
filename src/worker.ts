/**
 * Cloudflare Workers entry: the same app as `npm start`, in front of a real Medplum reached with
 * client credentials (MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID, MEDPLUM_CLIENT_SECRET). API clients
 * are registered in the AUTH_CLIENTS secret and tokens signed with AUTH_SIGNING_KEY; with no
 * clients registered, FHIR routes are refused (fail closed). A `RATE_LIMITER` rate-limiting
 * binding, when bound, limits each client. The Durable Object classes exported here hold what
 * every isolate must share (locks, the X-Request-ID record, the assertion ledger, async jobs),
 * when bound. The `queue` handler consumes the Worker's own outbox Queue (audit records, and
 * referrals sent with `Prefer: respond-async`), when bound.
 */
import type { ExecutionContext, Hono } from 'hono';
import { ClientRegistryError } from './auth/clients.ts';
import { ConfigError } from './config.ts';
import { consumeWorkerOutbox } from './edge/outbox.ts';
import { buildWorkerApp, type WorkerEnv } from './edge/worker-app.ts';
import { indexDefinitions } from './fhir/definitions.ts';
import { operationOutcome } from './fhir/outcomes.ts';
import type { AppEnv } from './http/env.ts';
import type { QueueBatchLike } from './outbox/queue-outbox.ts';

export { AsyncJobShard } from './edge/async-job-shard.ts';
export { JtiShard } from './edge/jti-shard.ts';
export { LockShard } from './edge/lock-shard.ts';
export { ReplayShard } from './edge/replay-shard.ts';

// Indexing runs in the isolate's start-up phase, not in the first request's CPU time.
indexDefinitions();

let built: { env: WorkerEnv; app: Promise<Hono<AppEnv>> } | undefined;

/** One app (and one Medplum client, with its token) per isolate and set of bindings. */
function appFor(env: WorkerEnv): Promise<Hono<AppEnv>> {
  if (built?.env === env) return built.app;
  const app = buildWorkerApp(env);
  built = { env, app };
  // A failed build is not cached: the next request tries again (and reports again).
  app.catch(() => {
    if (built?.app === app) built = undefined;
  });
  return app;
}

function notConfigured(problems: readonly string[]): Response {
  console.error(JSON.stringify({ level: 'error', event: 'config.invalid', problems }));
  const outcome = operationOutcome([{ code: 'exception', diagnostics: 'The service is not configured' }]);
  return new Response(JSON.stringify(outcome), {
    status: 500,
    headers: { 'Content-Type': 'application/fhir+json; charset=utf-8' },
  });
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    let app: Hono<AppEnv>;
    try {
      app = await appFor(env);
    } catch (err) {
      if (err instanceof ConfigError || err instanceof ClientRegistryError)
        return notConfigured(err.problems);
      // A malformed signing key: say which setting, never its value.
      if (err instanceof Error && /AUTH_SIGNING_KEY|signing key/i.test(err.message)) {
        return notConfigured(['AUTH_SIGNING_KEY: not a private EC P-256 JWK']);
      }
      throw err;
    }
    return app.fetch(request, env, ctx);
  },

  async queue(batch: QueueBatchLike, env: WorkerEnv, _ctx: ExecutionContext): Promise<void> {
    await consumeWorkerOutbox(batch, env);
  },
};
