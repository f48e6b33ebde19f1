import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { AppEnv } from '../http/env.ts';
import type { Logger } from '../logger.ts';

/**
 * One line per request: the matched route pattern (never the concrete path or query, which can
 * carry identifiers such as NHS numbers), status, duration and request id.
 */
export function requestLog(
  logger: Logger,
  now: () => number = () => performance.now(),
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = now();
    await next();
    logger.info('request', {
      requestId: c.get('requestId'),
      method: c.req.method,
      route: routePath(c, -1),
      status: c.res.status,
      ms: Math.round((now() - started) * 10) / 10,
    });
  };
}
