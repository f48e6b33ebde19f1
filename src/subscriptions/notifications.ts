import type { AuditSink } from '../audit/audit-sink.ts';
import type { FhirStore } from '../medplum/store.ts';
import type { AsyncJobs } from '../outbox/async-jobs.ts';
import type { DeliveryPolicy, Outbox, OutboxHandlers } from '../outbox/outbox.ts';
import { withChangeFeed } from './change-feed.ts';
import type { DeliveryDeps } from './delivery.ts';
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

/** What delivery needs (the store as it is, read by matching too), and the outbox and attempts. */
export interface NotificationOptions extends Omit<DeliveryDeps, 'audit'> {
  /** Where changes and notifications wait (kept apart from audit records and queued referrals). */
  outbox: Outbox;
  /** Where delivery AuditEvents go; read when the first one is written. */
  audit: () => AuditSink;
  maxAttempts: number;
  /** Where each subscription's notifications take their turn, on a queue that keeps no order. */
  sequence?: AsyncJobs;
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
  const { outbox, audit, maxAttempts, sequence, ...rest } = options;
  const delivery: DeliveryDeps = {
    ...rest,
    get audit() {
      return audit();
    },
  };
  const active = new ActiveSubscriptions(options.store);
  const match = {
    store: options.store,
    active,
    outbox,
    clock: options.clock,
    openMode: options.openMode,
    ...(sequence ? { sequence } : {}),
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
    deadLetterHandlers: notificationDeadLetterHandlers(delivery, maxAttempts, sequence),
  };
}
