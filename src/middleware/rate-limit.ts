import type { MiddlewareHandler } from 'hono';
import { FhirError } from '../fhir/outcomes.ts';
import type { AppEnv } from '../http/env.ts';

/**
 * The shape of Cloudflare's Workers rate-limiting binding (`env.RATE_LIMITER.limit({ key })`), so
 * the binding is used as it is in production and an in-process equivalent stands in elsewhere.
 */
export interface RateLimiter {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/** A fixed one-minute window per key, in process. */
export function createInProcessRateLimiter(perMinute: number, clock: () => Date): RateLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  return {
    async limit({ key }) {
      const now = clock().getTime();
      const start = now - (now % 60_000);
      let window = windows.get(key);
      if (!window || window.start !== start) {
        if (windows.size > 10_000) windows.clear();
        window = { start, count: 0 };
        windows.set(key, window);
      }
      window.count++;
      return { success: window.count <= perMinute };
    },
  };
}

/** 429 with `Retry-After` once a client has used up its allowance; keyed by client id. */
export function rateLimit(limiter: RateLimiter, retryAfterSeconds = 60): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ctx = c.get('ctx');
    if (ctx) {
      const { success } = await limiter.limit({ key: ctx.principal.clientId });
      if (!success) {
        throw new FhirError(
          'throttled',
          [{ code: 'throttled', diagnostics: 'Too many requests from this client; slow down' }],
          { 'Retry-After': String(retryAfterSeconds) },
        );
      }
    }
    return next();
  };
}
