import type { MiddlewareHandler } from 'hono';
import { FhirError } from '../fhir/outcomes.ts';
import type { AppEnv } from '../http/env.ts';

/** A response as first sent, kept so a repeated request id gets the same answer. */
export interface RecordedResponse {
  bodyHash: string;
  status: number;
  headers: [string, string][];
  body: string;
}

/**
 * Where recorded responses live. In-process here (one Node process or Worker isolate); a
 * deployment across isolates would put the same interface on a Durable Object.
 */
export interface ReplayStore {
  get(key: string): Promise<RecordedResponse | undefined>;
  put(key: string, response: RecordedResponse): Promise<void>;
}

export function createInMemoryReplayStore(
  options: { maxEntries?: number; ttlMs?: number } = {},
): ReplayStore {
  const maxEntries = options.maxEntries ?? 10_000;
  const ttlMs = options.ttlMs ?? 24 * 60 * 60_000;
  const entries = new Map<string, { at: number; response: RecordedResponse }>();
  return {
    async get(key) {
      const hit = entries.get(key);
      if (!hit) return undefined;
      if (Date.now() - hit.at > ttlMs) {
        entries.delete(key);
        return undefined;
      }
      return hit.response;
    },
    async put(key, response) {
      entries.delete(key);
      entries.set(key, { at: Date.now(), response });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
  };
}

/**
 * BaRS-style transactional integrity for writes: a request that repeats a client's X-Request-ID
 * gets the original response back, not a second write; the same id with a different body is a
 * 409. Requests without a client-sent id pass through. Server failures (5xx) are not recorded,
 * so a retry after one is processed afresh.
 */
export function requestReplay(store: ReplayStore): MiddlewareHandler<AppEnv> {
  const inFlight = new Map<string, Promise<void>>();
  return async (c, next) => {
    const clientId = c.req.header('x-request-id');
    if (!clientId || clientId !== c.get('requestId')) return next();
    // Per API client: one client's request id never answers another's request.
    const caller = c.get('ctx')?.principal.clientId ?? '';
    const key = `${caller} ${c.req.method} ${new URL(c.req.url).pathname} ${clientId}`;
    const bodyHash = await sha256(c.get('rawBody') ?? '');
    while (inFlight.has(key)) await inFlight.get(key);

    const recorded = await store.get(key);
    if (recorded) {
      if (recorded.bodyHash !== bodyHash) {
        throw new FhirError('conflict', [
          { code: 'duplicate', diagnostics: 'This X-Request-ID was already used for a different request' },
        ]);
      }
      return new Response(recorded.body, { status: recorded.status, headers: recorded.headers });
    }

    let done!: () => void;
    inFlight.set(key, new Promise<void>((resolve) => (done = resolve)));
    try {
      await next();
      if (c.res.status < 500) {
        const copy = c.res.clone();
        await store.put(key, {
          bodyHash,
          status: copy.status,
          headers: [...copy.headers],
          body: await copy.text(),
        });
      }
    } finally {
      inFlight.delete(key);
      done();
    }
  };
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
