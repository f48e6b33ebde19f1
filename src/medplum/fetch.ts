import { UpstreamError } from './errors.ts';

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface UpstreamFetchOptions {
  /** Abort a Medplum call after this many milliseconds. */
  timeoutMs: number;
  /** The transport: global fetch in production, an in-process handler for the embedded store. */
  fetch?: FetchLike;
}

/**
 * The fetch MedplumClient is given. It makes the client's requests acceptable to workerd (which
 * has rejected `credentials` and most `cache` modes; the client sets `credentials: 'include'` on
 * token requests and `cache: 'no-cache'` on profile reads), bounds each call in time, and turns
 * transport failures and 5xx answers into UpstreamError before the client can call them a 400.
 */
export function createUpstreamFetch(options: UpstreamFetchOptions): FetchLike {
  const transport = options.fetch ?? ((input, init) => fetch(input, init));
  return async (input, init = {}) => {
    const { credentials: _credentials, cache, signal, ...rest } = init;
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const requestInit: RequestInit = {
      ...rest,
      ...(cache === 'no-store' ? { cache } : {}),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    };
    let response: Response;
    try {
      response = await transport(input, requestInit);
    } catch (err) {
      if (timeout.aborted) throw new UpstreamError('timeout');
      if (signal?.aborted) throw err;
      throw new UpstreamError('unavailable');
    }
    if (isTokenEndpoint(input) && !response.ok) {
      await response.body?.cancel();
      throw new UpstreamError(response.status >= 500 ? 'bad-gateway' : 'auth', response.status);
    }
    if (response.status === 429) {
      await response.body?.cancel();
      throw new UpstreamError('throttled', 429);
    }
    if (response.status >= 500) {
      await response.body?.cancel();
      throw new UpstreamError(response.status === 503 ? 'unavailable' : 'bad-gateway', response.status);
    }
    return response;
  };
}

function isTokenEndpoint(input: string | URL | Request): boolean {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  return new URL(url).pathname.endsWith('/oauth2/token');
}
