/**
 * Notifications on Workers: subscriptions are served, and changes matched and notifications sent,
 * where the outbox Queue is bound (both go through it, beside audit records). Names are resolved
 * over DNS over HTTPS, each time before a notification is sent, and every address checked by the
 * endpoint rules; the POST itself leaves through Cloudflare's network, which does not reach the
 * account's private networks. The Queue keeps no order: where the async job objects are bound,
 * each subscription's notifications take turns there, in the order they were matched.
 */
import type { AuditSink } from '../audit/audit-sink.ts';
import { createStoreAuditSink } from '../audit/audit-sink.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { FhirStore } from '../medplum/store.ts';
import type { AsyncJobs } from '../outbox/async-jobs.ts';
import { createQueueOutbox, type QueueProducer } from '../outbox/queue-outbox.ts';
import type { Resolver, Sender } from '../subscriptions/delivery.ts';
import {
  NOTIFICATION_POLICY,
  type Notifications,
  wireNotifications,
} from '../subscriptions/notifications.ts';

/** The resolver queried for endpoints' addresses (JSON form of DNS over HTTPS). */
export const DOH_URL = 'https://cloudflare-dns.com/dns-query';

/** Most of an endpoint's answer read. */
const MAX_ANSWER_BYTES = 4096;

interface DohAnswer {
  Status?: number;
  Answer?: { type: number; data: string }[];
}

/** A name's A and AAAA addresses, from DNS over HTTPS. */
export function dohResolver(fetcher: typeof fetch = fetch): Resolver {
  return async (host) => {
    const ask = async (type: 'A' | 'AAAA') => {
      const url = `${DOH_URL}?name=${encodeURIComponent(host)}&type=${type}`;
      const response = await fetcher(url, { headers: { accept: 'application/dns-json' } });
      if (!response.ok) throw new Error('DNS over HTTPS failed');
      const answer = (await response.json()) as DohAnswer;
      // NXDOMAIN is an answer (no addresses); any other failure is tried again later.
      if (answer.Status !== 0 && answer.Status !== 3) throw new Error('DNS over HTTPS failed');
      return (answer.Answer ?? []).filter((a) => a.type === 1 || a.type === 28).map((a) => a.data);
    };
    const [v4, v6] = await Promise.all([ask('A'), ask('AAAA')]);
    return [...v4, ...v6];
  };
}

/** The Worker's sender: `fetch`, redirects never followed, a few KiB of the answer read. */
export function workerSender(fetcher: typeof fetch = fetch): Sender {
  return async (url, init) => {
    const response = await fetcher(url, {
      method: 'POST',
      headers: init.headers,
      ...(init.body === '' ? {} : { body: init.body }),
      redirect: 'manual',
      signal: init.signal,
    });
    const reader = response.body?.getReader();
    let read = 0;
    try {
      while (reader && read <= MAX_ANSWER_BYTES) {
        const { done, value } = await reader.read();
        if (done) break;
        read += value.byteLength;
      }
    } catch {
      // The status is what counts.
    } finally {
      await reader?.cancel().catch(() => {});
    }
    return { status: response.status };
  };
}

/** Notifications wired for the Worker, when its outbox Queue is bound. */
export function workerNotifications(
  queue: QueueProducer,
  store: FhirStore,
  config: Config,
  logger: Logger,
  audit: AuditSink | undefined,
  /** The async job objects, where bound: each subscription's notifications take turns there. */
  sequence?: AsyncJobs,
): Notifications {
  const policy = { allowLoopback: config.subscriptionAllowLoopback };
  const sink = audit ?? createStoreAuditSink(store, logger);
  return wireNotifications({
    store,
    outbox: createQueueOutbox(queue),
    clock: () => new Date(),
    logger,
    openMode: false,
    policy,
    resolve: dohResolver(),
    send: workerSender(),
    timeoutMs: config.notificationTimeoutMs,
    fhirBase: `${config.publicBaseUrl ?? ''}/fhir`,
    audit: () => sink,
    maxAttempts: NOTIFICATION_POLICY.maxAttempts,
    ...(sequence ? { sequence } : {}),
  });
}
