import type { Bundle, Parameters, Subscription, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { BACKPORT, SECRET_EXTENSION, SubscriptionInputSchema } from '../../src/schemas/subscription.ts';
import { changesOf, withChangeFeed } from '../../src/subscriptions/change-feed.ts';
import { deadLetterReason, sign } from '../../src/subscriptions/delivery.ts';
import { matches, notificationId, subscriberOf } from '../../src/subscriptions/matching.ts';
import { notificationBody } from '../../src/subscriptions/notification-body.ts';
import {
  isRunning,
  REFERRAL_TASK_STATUS_TOPIC,
  readSpec,
  stateOf,
  toStored,
  toSubscriberView,
  withState,
} from '../../src/subscriptions/subscription-rules.ts';

const input = (extra: Record<string, unknown> = {}) =>
  SubscriptionInputSchema.parse({
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'r',
    criteria: 'Task?status=accepted',
    channel: { type: 'rest-hook', endpoint: 'https://gp.example.org/hook', payload: 'application/fhir+json' },
    ...extra,
  });

describe('readSpec', () => {
  it('reads the R4 form: one search, full resource with a payload, empty without', () => {
    expect(readSpec(input())).toMatchObject({
      form: 'criteria',
      type: 'Task',
      content: 'full-resource',
      wantsOn: true,
    });
    const bare = input({ channel: { type: 'rest-hook', endpoint: 'https://gp.example.org/hook' } });
    expect(readSpec(bare).content).toBe('empty');
    expect(readSpec(input({ status: 'off' })).wantsOn).toBe(false);
  });

  it('reads the topic form with its filters and content', () => {
    const spec = readSpec(
      input({
        criteria: REFERRAL_TASK_STATUS_TOPIC,
        _criteria: {
          extension: [{ url: BACKPORT.filterCriteria, valueString: 'Task?owner=Organization/x' }],
        },
        channel: {
          type: 'rest-hook',
          endpoint: 'https://gp.example.org/hook',
          payload: 'application/fhir+json',
          _payload: { extension: [{ url: BACKPORT.payloadContent, valueCode: 'id-only' }] },
        },
      }),
    );
    expect(spec).toMatchObject({
      form: 'topic',
      type: 'Task',
      filters: ['Task?owner=Organization/x'],
      content: 'id-only',
    });
  });

  it.each([
    [
      'an unknown extension',
      { extension: [{ url: 'https://example.org/x', valueString: 'y' }] },
      /not supported/,
    ],
    ['a short secret', { extension: [{ url: SECRET_EXTENSION, valueString: 'short' }] }, /16 to 256/],
    [
      'filters on the R4 form',
      { _criteria: { extension: [{ url: BACKPORT.filterCriteria, valueString: 'Task?status=x' }] } },
      /topic-based/,
    ],
    ['an unwatched type', { criteria: 'Observation?code=x' }, /searches one of/],
    [
      'a topic with no content',
      { criteria: REFERRAL_TASK_STATUS_TOPIC },
      /payload content|names channel.payload/,
    ],
  ])('refuses %s as malformed', (_kind, extra, why) => {
    expect(() => readSpec(input(extra))).toThrow(why);
  });
});

describe('the stored form', () => {
  it('is off in the store, its state in a tag, and shown with the state as status', () => {
    const stored = toStored(input(), 'active', 'a'.repeat(20));
    expect(stored.status).toBe('off');
    expect(stateOf(stored)).toBe('active');
    const view = toSubscriberView(stored);
    expect(view.status).toBe('active');
    expect(JSON.stringify(view)).not.toContain(OWN_SYSTEM.subscriptionState);
    expect(view.extension).toEqual([{ url: SECRET_EXTENSION, valueString: 'a'.repeat(20) }]);
    // The count of a topic's events is the service's own.
    const counted = {
      ...stored,
      extension: [...(stored.extension ?? []), { url: OWN_SYSTEM.subscriptionEvents, extension: [] }],
    };
    expect(toSubscriberView(counted).extension).toEqual(view.extension);
  });

  it('keeps an error only in error, and runs only while active and before its end', () => {
    const stored = { ...toStored(input(), 'active', 'a'.repeat(20)), id: 's1' } as Subscription;
    const failed = withState(stored, 'error', 'why');
    expect([stateOf(failed), failed.error]).toEqual(['error', 'why']);
    const again = withState(failed, 'active');
    expect([stateOf(again), again.error]).toEqual(['active', undefined]);
    const now = new Date('2026-11-20T09:00:00Z');
    expect(isRunning(stored, now)).toBe(true);
    expect(isRunning(failed, now)).toBe(false);
    expect(isRunning({ ...stored, end: '2026-11-20T08:59:59Z' }, now)).toBe(false);
    expect(isRunning({ ...stored, end: '2026-11-20T09:00:01Z' }, now)).toBe(true);
  });

  it('names its subscriber by its owner label; one made in the open local mode only while in it', () => {
    const owned = (owner: string) =>
      ({
        resourceType: 'Subscription',
        id: 's',
        meta: { security: [{ system: OWN_SYSTEM.recordOwner, code: owner }] },
      }) as Subscription;
    expect(subscriberOf(owned('B99901'), false)?.organization).toBe('B99901');
    expect(subscriberOf(owned('open-local-mode'), true)?.organization).toBeUndefined();
    expect(subscriberOf(owned('open-local-mode'), false)).toBeUndefined();
    expect(subscriberOf({ resourceType: 'Subscription' } as Subscription, true)).toBeUndefined();
  });
});

describe('matching and notification ids', () => {
  const task = {
    resourceType: 'Task',
    id: 't',
    status: 'accepted',
    intent: 'order',
    owner: { reference: 'Organization/o1' },
  } as Task;
  const sub = (criteria: string, id = 's1') =>
    ({ resourceType: 'Subscription', id, criteria, meta: { versionId: criteria } }) as Subscription;

  it('matches a changed version by its criteria', () => {
    expect(matches(sub('Task?status=accepted'), task)).toBe(true);
    expect(matches(sub('Task?status=completed'), task)).toBe(false);
    expect(matches(sub('Task?owner=Organization/o1&status=accepted,completed'), task)).toBe(true);
    expect(matches(sub('Task?status:not=accepted'), task)).toBe(false);
    expect(matches(sub('CarePlan?status=active'), task)).toBe(false);
  });

  it('gives one change one id per subscription, every time it is matched', async () => {
    const change = { type: 'Task', id: 't', versionId: 'v1' };
    const first = await notificationId('s1', change);
    expect(await notificationId('s1', change)).toBe(first);
    expect(await notificationId('s2', change)).not.toBe(first);
    expect(await notificationId('s1', { ...change, versionId: 'v2' })).not.toBe(first);
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('blames the endpoint for a dead letter only when its last attempt reached it', () => {
    expect(deadLetterReason(12, 'DeliveryFailed')).toBe(
      'The endpoint did not accept a notification in 12 attempts',
    );
    const own = deadLetterReason(12, 'UpstreamError');
    expect(own).toMatch(/the service could not prepare it \(UpstreamError\)/);
    expect(own).not.toMatch(/endpoint/);
  });

  it('signs as HMAC-SHA256, hex (RFC 4231 test case 2)', async () => {
    expect(await sign('Jefe', 'what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });
});

describe('notification bodies', () => {
  const task = { resourceType: 'Task', id: 't1', status: 'accepted', meta: { versionId: 'v2' } } as Task;
  const base = {
    subscriptionId: 's1',
    notificationId: 'n1',
    resource: task,
    fhirBase: 'https://sp.example.org/fhir',
    now: new Date('2026-11-20T09:00:00Z'),
  };

  it('is the resource, or nothing, in the R4 form', () => {
    expect(notificationBody({ ...base, form: 'criteria', content: 'full-resource' })).toEqual({
      body: JSON.stringify(task),
      contentType: 'application/fhir+json',
    });
    expect(notificationBody({ ...base, form: 'criteria', content: 'empty' })).toEqual({ body: '' });
  });

  it.each([
    ['empty', 1, false],
    ['id-only', 2, false],
    ['full-resource', 2, true],
  ] as const)(
    'is a history Bundle with the status first in the topic form (%s)',
    (content, entries, withResource) => {
      const { body } = notificationBody({
        ...base,
        form: 'topic',
        content,
        event: { number: 7, timestamp: '2026-11-20T08:59:00Z' },
      });
      const bundle = JSON.parse(body) as Bundle;
      expect(bundle.type).toBe('history');
      expect(bundle.entry).toHaveLength(entries);
      const status = bundle.entry?.[0]?.resource as Parameters;
      expect(status.meta?.profile).toEqual([BACKPORT.statusProfile]);
      const value = (name: string) => status.parameter?.find((p) => p.name === name);
      expect(value('type')?.valueCode).toBe('event-notification');
      expect(value('events-since-subscription-start')?.valueString).toBe('7');
      const event = value('notification-event');
      expect(event?.part?.find((p) => p.name === 'event-number')?.valueString).toBe('7');
      expect(event?.part?.some((p) => p.name === 'focus')).toBe(content !== 'empty');
      expect(bundle.entry?.[1]?.resource !== undefined).toBe(withResource);
    },
  );
});

describe('the change feed', () => {
  it('takes the written versions of watched types from a batch answer, never its reads or matched creates', () => {
    const request: Bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { request: { method: 'GET', url: 'Task/t1' } },
        { request: { method: 'PUT', url: 'Task/t2' } },
        { request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'POST', url: 'ServiceRequest' } },
        { request: { method: 'POST', url: 'CarePlan' } },
        // A conditional create that matched what was stored: no change.
        { request: { method: 'POST', url: 'Task', ifNoneExist: 'identifier=x|1' } },
      ],
    };
    const answer: Bundle = {
      resourceType: 'Bundle',
      type: 'batch-response',
      entry: [
        {
          resource: { resourceType: 'Task', id: 't1', meta: { versionId: 'a' } } as Task,
          response: { status: '200' },
        },
        {
          resource: { resourceType: 'Task', id: 't2', meta: { versionId: 'b' } } as Task,
          response: { status: '200' },
        },
        { response: { status: '201', location: 'Patient/p/_history/c' } },
        { response: { status: '201 Created', location: 'https://x/fhir/R4/ServiceRequest/sr/_history/d' } },
        { response: { status: '400' } },
        {
          resource: { resourceType: 'Task', id: 't3', meta: { versionId: 'e' } } as Task,
          response: { status: '200 OK' },
        },
      ],
    };
    expect(changesOf(request, answer)).toEqual([
      { type: 'Task', id: 't2', versionId: 'b' },
      { type: 'ServiceRequest', id: 'sr', versionId: 'd' },
    ]);
  });

  it('feeds creates and updates of watched types only, once stored', async () => {
    const fed: string[] = [];
    const store = withChangeFeed(createEmbeddedStore({ timeoutMs: 5_000 }).store, (changes) => {
      fed.push(...changes.map((c) => `${c.type}/${c.id}`));
    });
    const task = await store.create({ resourceType: 'Task', status: 'requested', intent: 'order' } as Task);
    await store.create({ resourceType: 'Organization', name: 'x' });
    await store.update({ ...task, status: 'accepted' });
    await store.read('Task', task.id as string);
    expect(fed).toEqual([`Task/${task.id}`, `Task/${task.id}`]);
  });
});
