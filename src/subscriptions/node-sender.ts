/**
 * Notifications on Node: names resolved by the system resolver, and POSTs through a connection
 * pool whose every connection is made only to an address the endpoint rules allow. The address is
 * checked as the connection is made, not only before: a name re-pointed at a private address
 * between the check and the request (DNS rebinding) still reaches nothing it should not.
 * Node only (undici, node:dns); the Worker has its own (src/edge/notifications.ts).
 */
import { type LookupAddress, lookup } from 'node:dns';
import { Agent, fetch } from 'undici';
import type { Resolver, Sender } from './delivery.ts';
import { addressKind, type EndpointPolicy } from './endpoint-rules.ts';

/** Most of an endpoint's answer read: the status is what counts, the rest is drained and dropped. */
const MAX_ANSWER_BYTES = 4096;

export const nodeResolver: Resolver = async (host) =>
  new Promise((resolve, reject) => {
    lookup(host, { all: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses.map((a) => a.address)),
    );
  });

/** Whether a connection may be made to the address: plain http goes to loopback only. */
function allowed(address: string, policy: EndpointPolicy, plain = false): boolean {
  const kind = addressKind(address);
  if (kind === 'loopback') return policy.allowLoopback;
  return kind === 'public' && !plain;
}

/** An error a refused connection fails with; only its name is ever logged. */
class RefusedAddressError extends Error {
  constructor() {
    super('The endpoint resolved to an address notifications are not sent to');
    this.name = 'RefusedAddressError';
  }
}

type LookupCallback = (err: Error | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for connections: the system's, with every address it gives checked. */
function checkedLookup(policy: EndpointPolicy, plain: boolean) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback) => {
    lookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      if (addresses.length === 0 || !addresses.every((a) => allowed(a.address, policy, plain))) {
        return callback(new RefusedAddressError(), []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

/** The Node sender: redirects never followed, the answer read to a few KiB at most. */
export function nodeSender(policy: EndpointPolicy): Sender {
  // Plain http has a pool of its own, which connects to loopback only (a name re-pointed
  // elsewhere after the check is not reached, unencrypted).
  const agent = (plain: boolean) =>
    new Agent({
      connect: { lookup: checkedLookup(policy, plain) as never },
      keepAliveTimeout: 10_000,
      connections: 16,
    });
  const agents = { https: agent(false), http: agent(true) };
  return async (url, init) => {
    const plain = url.protocol === 'http:';
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (addressKind(host) !== undefined && !allowed(host, policy, plain)) throw new RefusedAddressError();
    const response = await fetch(url, {
      method: 'POST',
      headers: init.headers,
      // An empty notification is a POST with no body (and so no Content-Type).
      body: init.body === '' ? null : init.body,
      redirect: 'manual',
      signal: init.signal,
      dispatcher: plain ? agents.http : agents.https,
    });
    await drain(response.body as ReadableStream<Uint8Array> | null, init.signal);
    return { status: response.status };
  };
}

async function drain(body: ReadableStream<Uint8Array> | null, signal: AbortSignal): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  let read = 0;
  try {
    while (read <= MAX_ANSWER_BYTES && !signal.aborted) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
  } catch {
    // The answer's status is known; a body cut short changes nothing.
  } finally {
    await reader.cancel().catch(() => {});
  }
}
