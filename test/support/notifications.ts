import { DatabaseSync } from 'node:sqlite';
import type { Subscription } from '@medplum/fhirtypes';
import { type AuditSink, createStoreAuditSink } from '../../src/audit/audit-sink.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import type { DeliveryPolicy } from '../../src/outbox/outbox.ts';
import { SqliteOutbox } from '../../src/outbox/sqlite-outbox.ts';
import type { Resolver } from '../../src/subscriptions/delivery.ts';
import { nodeResolver, nodeSender } from '../../src/subscriptions/node-sender.ts';
import { NOTIFICATION_CONCURRENCY, wireNotifications } from '../../src/subscriptions/notifications.ts';
import { captureLogger, TEST_NOW } from './app.ts';
import { BASE, type SecuredApp, securedApp } from './secured.ts';

/** Quick retries: 50 ms, then 100 ms, then 200 ms between attempts. */
export const FAST_POLICY: DeliveryPolicy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 400 };

export const SECRET = 'receiver-test-secret-0123456789';

export interface NotifiedApp extends SecuredApp {
  /** The store as it is, without the change feed. */
  raw: FhirStore;
  outbox: SqliteOutbox;
  db: DatabaseSync;
  /** Stops the notification loop (what is pending stays in its table). */
  stop(): Promise<void>;
}

export interface NotifiedOptions {
  policy?: DeliveryPolicy;
  timeoutMs?: number;
  resolve?: Resolver;
  allowLoopback?: boolean;
  /** The outbox's database: a file's, to start again on (default: in memory). */
  db?: DatabaseSync;
  store?: FhirStore;
  /** Leave the notification loop stopped (a process that died before delivering). */
  stopped?: boolean;
}

/**
 * The secured app with notifications wired as `npm start` wires them: a change feed on the store,
 * their own SQLite outbox, a real HTTP sender on loopback, delivery AuditEvents in the store.
 */
export async function notifiedApp(options: NotifiedOptions = {}): Promise<NotifiedApp> {
  const raw = options.store ?? createEmbeddedStore({ timeoutMs: 5_000 }).store;
  const db = options.db ?? new DatabaseSync(':memory:');
  const policy = { allowLoopback: options.allowLoopback ?? true };
  const logger = captureLogger();
  let outbox: SqliteOutbox | undefined;
  let now = TEST_NOW;
  const audit: AuditSink = createStoreAuditSink(raw, logger);
  const notifications = wireNotifications({
    store: raw,
    outbox: { enqueue: (kind, payload, o) => outbox?.enqueue(kind, payload, o) },
    clock: () => now,
    logger,
    openMode: false,
    policy,
    resolve: options.resolve ?? nodeResolver,
    send: nodeSender(policy),
    timeoutMs: options.timeoutMs ?? 1_000,
    fhirBase: `${BASE}/fhir`,
    audit: () => audit,
    maxAttempts: (options.policy ?? FAST_POLICY).maxAttempts,
  });
  outbox = new SqliteOutbox(db, {
    table: 'notification_outbox',
    concurrency: NOTIFICATION_CONCURRENCY,
    handlers: notifications.handlers,
    deadLetterHandlers: notifications.deadLetterHandlers,
    policy: options.policy ?? FAST_POLICY,
    random: () => 0,
    logger,
  });
  const s = await securedApp(
    {},
    { store: notifications.store, subscriptions: notifications.subscriptions, audit },
  );
  const setNow = s.setNow;
  if (!options.stopped) outbox.start();
  const box = outbox;
  return {
    ...s,
    setNow: (date) => {
      now = date;
      setNow(date);
    },
    raw,
    outbox: box,
    db,
    stop: () => box.stop(),
  };
}

/** A rest-hook Subscription on `criteria` to `endpoint`, with the test secret. */
export function subscription(
  criteria: string,
  endpoint: string,
  extra: Partial<Subscription> = {},
): Subscription {
  return {
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'Told when a referral moves on',
    criteria,
    channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json' },
    extension: [
      { url: 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret', valueString: SECRET },
    ],
    ...extra,
  };
}

/** The topic-based form (Subscriptions R5 Backport) to `endpoint`, with its filter and content. */
export function topicSubscription(endpoint: string, content: string, filter: string): Subscription {
  return subscription(
    'https://fhir.social-prescribing.example.org/SubscriptionTopic/referral-task-status',
    endpoint,
    {
      meta: {
        profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription'],
      },
      _criteria: {
        extension: [
          {
            url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria',
            valueString: filter,
          },
        ],
      },
      channel: {
        type: 'rest-hook',
        endpoint,
        payload: 'application/fhir+json',
        _payload: {
          extension: [
            {
              url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content',
              valueCode: content,
            },
          ],
        },
      },
    } as never,
  );
}
