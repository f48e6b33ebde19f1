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

/** What one recorded response weighs in memory, roughly: its text at two bytes a character. */
function sizeOf(response: RecordedResponse): number {
  const headers = response.headers.reduce((n, [name, value]) => n + name.length + value.length, 0);
  return 2 * (response.body.length + headers + response.bodyHash.length) + 64;
}

/**
 * Responses kept in process for `ttlMs`, bounded by their total size (not their number: one
 * response may be a megabyte, and a Worker isolate has 128 MB), oldest dropped first. A response
 * larger than an eighth of the bound is not kept; a repeat of it is served afresh.
 */
export function createInMemoryReplayStore(options: { maxBytes?: number; ttlMs?: number } = {}): ReplayStore {
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  const ttlMs = options.ttlMs ?? 24 * 60 * 60_000;
  const entries = new Map<string, { at: number; size: number; response: RecordedResponse }>();
  let total = 0;
  const drop = (key: string) => {
    const hit = entries.get(key);
    if (!hit) return;
    total -= hit.size;
    entries.delete(key);
  };
  return {
    async get(key) {
      const hit = entries.get(key);
      if (!hit) return undefined;
      if (Date.now() - hit.at > ttlMs) {
        drop(key);
        return undefined;
      }
      return hit.response;
    },
    async put(key, response) {
      drop(key);
      const size = sizeOf(response);
      if (size > maxBytes / 8) return;
      entries.set(key, { at: Date.now(), size, response });
      total += size;
      while (total > maxBytes) drop(entries.keys().next().value as string);
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
    while (inFlight.has(key)) await inFlight.get(key);
    // Marked in the same tick as the check above, before anything is awaited: a concurrent
    // request with this id waits here whatever the store's latency.
    let done!: () => void;
    inFlight.set(key, new Promise<void>((resolve) => (done = resolve)));
    try {
      const bodyHash = await sha256(c.get('rawBody') ?? '');
      const recorded = await store.get(key);
      if (recorded) {
        if (recorded.bodyHash !== bodyHash) {
          throw new FhirError('conflict', [
            { code: 'duplicate', diagnostics: 'This X-Request-ID was already used for a different request' },
          ]);
        }
        return new Response(recorded.body, { status: recorded.status, headers: recorded.headers });
      }
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
