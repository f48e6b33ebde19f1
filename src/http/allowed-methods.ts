import type { Hono } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';
import type { AppEnv } from './env.ts';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * The methods each path answers, read from the app's own routes once they are all mounted, so
 * that a request with another method can be answered 405 with `Allow` rather than 404 (RFC 9110
 * section 15.5.6), and OPTIONS can say what a path offers.
 */
export function allowedMethods(app: Hono<AppEnv>): (path: string) => string[] {
  const router = new TrieRouter<string>();
  for (const route of app.routes) {
    // Middleware is registered for every method; only endpoints say what a path offers.
    if (route.method !== 'ALL') router.add(route.method, route.path, route.method);
  }
  return (path) => {
    const allowed = new Set<string>();
    for (const method of METHODS) {
      if (router.match(method, path)[0].length > 0) allowed.add(method);
    }
    if (allowed.has('GET')) allowed.add('HEAD');
    return METHODS.filter((m) => allowed.has(m));
  };
}
