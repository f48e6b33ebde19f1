import * as z from 'zod';
import type { AsyncJobs } from '../outbox/async-jobs.ts';
import type { Outbox, OutboxHandlers } from '../outbox/outbox.ts';
import type { Change, ChangeSink } from './change-feed.ts';
import { type DeliveryDeps, deadLetterReason, deliverNotification } from './delivery.ts';
import { CHANGES_KIND, type MatchDeps, matchChanges, NOTIFY_KIND } from './matching.ts';
import { markError } from './subscription-store.ts';

const ChangesMessage = z.object({
  changes: z.array(z.object({ type: z.string(), id: z.string(), versionId: z.string() })).min(1),
});

const NotifyMessageSchema = z.object({
  subscription: z.string(),
  notification: z.string(),
  type: z.string(),
  id: z.string(),
  versionId: z.string(),
  at: z.string(),
  created: z.boolean().optional(),
  job: z.string().optional(),
});

/** A notification that must wait for an earlier one of its subscription: tried again later. */
export class EarlierNotificationPending extends Error {
  constructor() {
    super('An earlier notification of the subscription is still to be sent');
    this.name = 'EarlierNotificationPending';
  }
}

/** What a notification's job holds once it has had its turn (nothing is read from it). */
const DONE = { status: 200, headers: {}, format: 'json' as const, body: null };

/** Where a write's changes go: into the outbox, in order per resource, before the write is answered. */
export function changeSink(outbox: Outbox): ChangeSink {
  return async (changes: Change[]) => {
    // Changes of one resource are matched in the order they were made.
    for (const change of changes) {
      await outbox.enqueue(
        CHANGES_KIND,
        { changes: [change] },
        { orderKey: `change/${change.type}/${change.id}` },
      );
    }
  };
}

/** The outbox handlers of notifications: matching a write's changes, and sending one notification. */
export function notificationHandlers(match: MatchDeps, delivery: DeliveryDeps): OutboxHandlers {
  return {
    [CHANGES_KIND]: async (payload) => matchChanges(match, ChangesMessage.parse(payload).changes),
    [NOTIFY_KIND]: async (payload, info) => {
      const message = NotifyMessageSchema.parse(payload);
      const sequence = match.sequence;
      if (message.job && (await sequence?.turn?.(message.job)) === 'wait')
        throw new EarlierNotificationPending();
      await deliverNotification(delivery, message, info?.attempt ?? 1);
      // Sent, dropped, or refused for good: the next one's turn.
      if (message.job) await sequence?.complete(message.job, DONE);
    },
  };
}

/**
 * A notification that used up its attempts puts its subscription in `error`, saying so: its
 * subscriber sees why on the subscription and in `$status`, and turns it on again when fixed.
 */
export function notificationDeadLetterHandlers(
  delivery: DeliveryDeps,
  maxAttempts: number,
  sequence?: AsyncJobs,
): OutboxHandlers {
  return {
    [NOTIFY_KIND]: async (payload, info) => {
      const message = NotifyMessageSchema.safeParse(payload);
      if (!message.success) return;
      await markError(delivery.store, message.data.subscription, deadLetterReason(maxAttempts, info?.error));
      // The next one's turn.
      if (message.data.job) await sequence?.complete(message.data.job, DONE);
    },
  };
}
