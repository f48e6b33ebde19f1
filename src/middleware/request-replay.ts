import type { MiddlewareHandler } from 'hono';
import { FhirError } from '../fhir/outcomes.ts';
import type { AppEnv } from '../http/env.ts';

/** A record that could not be kept or let go needs no handling: its claim expires on its own. */
const leftToExpiry = (): void => {};

/** A response as first sent, kept so a repeated request id gets the same answer. */
export interface RecordedResponse {
  bodyHash: string;
  status: number;
  headers: [string, string][];
  body: string;
}

/** What a store answers when a request with a client's request id begins. */
export type ReplayBegin =
  /** Answered before: send this again (or 409 when the body differs). */
  | { state: 'recorded'; response: RecordedResponse }
  /** Another request with this id is running: ask again once `settled` resolves. */
  | { state: 'in-flight'; settled: Promise<void> }
  /** This request now holds the id: complete or abandon the claim when it is answered. */
  | { state: 'claimed'; claim: string };

/**
 * Where recorded responses live, and who is answering an id now. `begin` checks and claims in
 * one step, so that two requests with the same id never both run: in process here (one Node
 * process or Worker isolate), in Durable Objects across isolates (src/edge/replay.ts).
 */
export interface ReplayStore {
  begin(key: string): Promise<ReplayBegin>;
  /** Records the claimed request's response and ends the claim. */
  complete(key: string, claim: string, response: RecordedResponse): Promise<void>;
  /** Ends the claim without a record (a server failure): a repeat is processed afresh. */
  abandon(key: string, claim: string): Promise<void>;
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
  const claims = new Map<string, { claim: string; settle: () => void; settled: Promise<void> }>();
  const drop = (key: string) => {
    const hit = entries.get(key);
    if (!hit) return;
    total -= hit.size;
    entries.delete(key);
  };
  const get = (key: string) => {
    const hit = entries.get(key);
    if (!hit) return undefined;
    if (Date.now() - hit.at <= ttlMs) return hit.response;
    drop(key);
    return undefined;
  };
  const put = (key: string, response: RecordedResponse) => {
    drop(key);
    const size = sizeOf(response);
    if (size > maxBytes / 8) return;
    entries.set(key, { at: Date.now(), size, response });
    total += size;
    while (total > maxBytes) drop(entries.keys().next().value as string);
  };
  const settle = (key: string, claim: string) => {
    const held = claims.get(key);
    if (held?.claim !== claim) return;
    claims.delete(key);
    held.settle();
  };
  return {
    // Nothing awaited between the check and the claim: a concurrent begin sees the claim.
    async begin(key) {
      const response = get(key);
      if (response) return { state: 'recorded', response };
      const held = claims.get(key);
      if (held) return { state: 'in-flight', settled: held.settled };
      let settleClaim!: () => void;
      const settled = new Promise<void>((resolve) => (settleClaim = resolve));
      const claim = crypto.randomUUID();
      claims.set(key, { claim, settle: settleClaim, settled });
      return { state: 'claimed', claim };
    },
    async complete(key, claim, response) {
      put(key, response);
      settle(key, claim);
    },
    async abandon(key, claim) {
      settle(key, claim);
    },
  };
}

/**
 * BaRS-style transactional integrity for writes: a request that repeats a client's X-Request-ID
 * gets the original response back, not a second write; the same id with a different body is a
 * 409. A repeat sent while the first is still running waits for its answer. Requests without a
 * client-sent id pass through. Server failures (5xx) are not recorded, so a retry after one is
 * processed afresh.
 */
export function requestReplay(store: ReplayStore): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const clientId = c.req.header('x-request-id');
    if (!clientId || clientId !== c.get('requestId')) return next();
    // Per API client: one client's request id never answers another's request.
    const caller = c.get('ctx')?.principal.clientId ?? '';
    const key = `${caller} ${c.req.method} ${new URL(c.req.url).pathname} ${clientId}`;
    const bodyHash = await sha256(c.get('rawBody') ?? '');
    for (;;) {
      const begun = await store.begin(key);
      if (begun.state === 'in-flight') {
        await begun.settled;
        continue;
      }
      if (begun.state === 'recorded') {
        const recorded = begun.response;
        if (recorded.bodyHash !== bodyHash) {
          throw new FhirError('conflict', [
            { code: 'duplicate', diagnostics: 'This X-Request-ID was already used for a different request' },
          ]);
        }
        return new Response(recorded.body, { status: recorded.status, headers: recorded.headers });
      }
      let response: RecordedResponse | undefined;
      try {
        await next();
        if (c.res.status < 500) {
          const copy = c.res.clone();
          response = { bodyHash, status: copy.status, headers: [...copy.headers], body: await copy.text() };
        }
      } finally {
        // The answer stands whatever becomes of its record: without one, a repeat is processed
        // afresh, and the use cases' own idempotency answers it.
        const ending = response
          ? store.complete(key, begun.claim, response)
          : store.abandon(key, begun.claim);
        await ending.catch(leftToExpiry);
      }
      return;
    }
  };
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
