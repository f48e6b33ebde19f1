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

/**
 * A fixed one-minute window per key, in process. Windows are kept in the order they opened, so
 * those whose minute is over are dropped from the front as each request comes. Memory is bounded
 * by `maxKeys` live windows: past that, a key without a window is refused until some expire, so
 * a flood of new keys never resets the count of a key already seen.
 */
export function createInProcessRateLimiter(
  perMinute: number,
  clock: () => Date,
  maxKeys = 10_000,
): RateLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  return {
    async limit({ key }) {
      const now = clock().getTime();
      const start = now - (now % 60_000);
      for (const [k, w] of windows) {
        if (w.start >= start) break;
        windows.delete(k);
      }
      let window = windows.get(key);
      // Only a clock set back leaves a window from another minute here.
      if (window && window.start !== start) {
        windows.delete(key);
        window = undefined;
      }
      if (!window) {
        if (windows.size >= maxKeys) return { success: false };
        window = { start, count: 0 };
        windows.set(key, window);
      }
      window.count++;
      return { success: window.count <= perMinute };
    },
  };
}

/**
 * 429 with `Retry-After` once a client has used up its allowance; keyed by client id. The request
 * is marked throttled, so that the audit records such refusals in aggregate.
 */
export function rateLimit(limiter: RateLimiter, retryAfterSeconds = 60): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ctx = c.get('ctx');
    if (ctx) {
      const { success } = await limiter.limit({ key: `client ${ctx.principal.clientId}` });
      if (!success) {
        c.set('throttled', true);
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
