import type { AuditSink } from '../audit/audit-sink.ts';
import type { Logger } from '../logger.ts';
import type { FhirStore } from '../medplum/store.ts';
import type { DeliveryPolicy, Outbox, OutboxHandlers } from '../outbox/outbox.ts';
import { withChangeFeed } from './change-feed.ts';
import type { DeliveryDeps, Resolver, Sender } from './delivery.ts';
import type { EndpointPolicy } from './endpoint-rules.ts';
import { changeSink, notificationDeadLetterHandlers, notificationHandlers } from './handlers.ts';
import { ActiveSubscriptions } from './matching.ts';
import type { SubscriptionDeps } from './subscriptions.ts';

/**
 * 12 attempts, 2 s doubling to at most 15 minutes apart: a notification is tried for about half
 * an hour to three quarters of one (the jitter decides), then its subscription is set to `error`.
 */
export const NOTIFICATION_POLICY: DeliveryPolicy = {
  maxAttempts: 12,
  baseDelayMs: 2_000,
  maxDelayMs: 900_000,
};

/**
 * Notifications handled at once on Node: one slow endpoint holds up only its own subscription's
 * (each subscription's go one at a time, in order).
 */
export const NOTIFICATION_CONCURRENCY = 8;

export interface NotificationOptions {
  /** The store as it is: matching and delivery read it, and write only subscriptions. */
  store: FhirStore;
  /** Where changes and notifications wait (kept apart from audit records and queued referrals). */
  outbox: Outbox;
  clock: () => Date;
  logger: Logger;
  openMode: boolean;
  policy: EndpointPolicy;
  resolve: Resolver;
  send: Sender;
  timeoutMs: number;
  /** The service's FHIR base, `https://…/fhir`. */
  fhirBase: string;
  /** Where delivery AuditEvents go; read when the first one is written. */
  audit: () => AuditSink;
  maxAttempts: number;
}

export interface Notifications {
  /** The store the app and its queued work write through: every watched change is fed to the outbox. */
  store: FhirStore;
  subscriptions: SubscriptionDeps;
  handlers: OutboxHandlers;
  deadLetterHandlers: OutboxHandlers;
}

/** Everything notifications need, wired: the change feed, the routes' use cases and the outbox handlers. */
export function wireNotifications(options: NotificationOptions): Notifications {
  const delivery: DeliveryDeps = {
    store: options.store,
    clock: options.clock,
    logger: options.logger,
    openMode: options.openMode,
    policy: options.policy,
    resolve: options.resolve,
    send: options.send,
    timeoutMs: options.timeoutMs,
    fhirBase: options.fhirBase,
    get audit() {
      return options.audit();
    },
  };
  const active = new ActiveSubscriptions(options.store);
  const match = {
    store: options.store,
    active,
    outbox: options.outbox,
    clock: options.clock,
    openMode: options.openMode,
  };
  return {
    store: withChangeFeed(options.store, changeSink(options.outbox)),
    subscriptions: {
      store: options.store,
      policy: options.policy,
      resolve: options.resolve,
      changed: () => active.invalidate(),
    },
    handlers: notificationHandlers(match, delivery),
    deadLetterHandlers: notificationDeadLetterHandlers(delivery, options.maxAttempts),
  };
}
