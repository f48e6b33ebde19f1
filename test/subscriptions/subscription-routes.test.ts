import type { Bundle, OperationOutcome, Subscription } from '@medplum/fhirtypes';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { UpstreamError, type UpstreamFailure } from '../../src/medplum/errors.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { MAX_PER_ORGANISATION } from '../../src/subscriptions/subscriptions.ts';
import { type NotifiedApp, notifiedApp, SECRET, subscription } from '../support/notifications.ts';
import { type Receiver, startReceiver } from '../support/receiver.ts';
import { exampleBody } from '../support/referrals.ts';
import { COMMUNITY, GP, SP } from '../support/secured.ts';

// The Subscription routes: what is refused at creation (and why), what another organisation and
// a narrower token get, and what the caller gets when the store fails.

const NURSING = 'riverside-district-nursing';
const SUBSCRIBER = 'system/*.rs system/Subscription.cruds';

const apps: NotifiedApp[] = [];
const receivers: Receiver[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.stop();
  for (const r of receivers.splice(0)) await r.close();
});

async function setUp(options: Parameters<typeof notifiedApp>[0] = {}) {
  const a = await notifiedApp(options);
  apps.push(a);
  const hook = await startReceiver();
  receivers.push(hook);
  const gp = await a.token(GP, SUBSCRIBER);
  const nurse = await a.token(NURSING, SUBSCRIBER);
  return { a, hook, gp, nurse };
}

const diagnostics = async (response: Response) =>
  ((await response.json()) as OperationOutcome).issue?.map((i) => i.diagnostics).join('; ');

describe('creating a subscription', () => {
  it('answers 201 with Location and ETag, active, the secret shown to its owner', async () => {
    const { a, hook, gp } = await setUp();
    const response = await a.as(gp, '/fhir/Subscription', {
      body: subscription('Task?status=accepted', hook.url),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toMatch(/\/fhir\/Subscription\/[\w-]+\/_history\/[\w-]+$/);
    expect(response.headers.get('etag')).toMatch(/^W\/"/);
    const created = (await response.json()) as Subscription;
    expect(created.status).toBe('active');
    expect(created.extension?.[0]?.valueString).toBe(SECRET);
    // Nothing of how it is kept shows: no state tag, no labels, no store status.
    expect(JSON.stringify(created)).not.toMatch(/subscription-state|organisation-access|record-owner/);
  });

  it('makes a secret when none is sent, and `off` stores it paused', async () => {
    const { a, hook, gp } = await setUp();
    const body = { ...subscription('Task?status=accepted', hook.url), status: 'off' as const, extension: [] };
    const created = (await (await a.as(gp, '/fhir/Subscription', { body })).json()) as Subscription;
    expect(created.status).toBe('off');
    expect(created.extension?.[0]?.valueString).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['plain http to a public name', 'http://gp-hooks.example.org/hook', /https URL/],
    ['a private address', 'https://10.1.2.3/hook', /private network/],
    ['a private IPv6 address', 'https://[fd00::5]/hook', /private network/],
    ['a link-local address', 'https://169.254.10.10/hook', /link-local/],
    ['the cloud metadata service', 'https://169.254.169.254/latest/meta-data', /metadata/],
    // One answer for a name, whatever it resolves to: no map of a private network's names.
    [
      'a name resolving to loopback',
      'https://loopback.example.org/hook',
      /does not resolve to public addresses only/,
    ],
    [
      'a name resolving to a private address',
      'https://intranet.example.org/hook',
      /does not resolve to public addresses only/,
    ],
    [
      'a name that does not resolve',
      'https://nowhere.example.org/hook',
      /does not resolve to public addresses only/,
    ],
    ['a URL with a password', 'https://user:pw@gp-hooks.example.org/hook', /password/],
    ['loopback outside the local mode', 'http://127.0.0.1:9/hook', /loopback/],
  ])('refuses %s with 400 naming why, and stores nothing', async (_kind, endpoint, why) => {
    const names: Record<string, string[]> = {
      'gp-hooks.example.org': ['93.184.216.34'],
      'loopback.example.org': ['127.0.0.1'],
      'intranet.example.org': ['93.184.216.34', '192.168.1.20'],
    };
    const { a, gp } = await setUp({
      allowLoopback: false,
      resolve: async (host) => {
        if (!names[host]) throw new Error('ENOTFOUND');
        return names[host];
      },
    });
    const response = await a.as(gp, '/fhir/Subscription', {
      body: subscription('Task?status=accepted', endpoint),
    });
    expect(response.status).toBe(400);
    expect(await diagnostics(response)).toMatch(why);
    const listed = (await (await a.as(gp, '/fhir/Subscription')).json()) as Bundle;
    expect(listed.total).toBe(0);
    // The same subscription to a public https endpoint is taken: the refusal is the endpoint's.
    const fine = await a.as(gp, '/fhir/Subscription', {
      body: subscription('Task?status=accepted', 'https://gp-hooks.example.org/hook'),
    });
    expect(fine.status).toBe(201);
  });

  it.each([
    ['an unknown parameter', 'Task?colour=blue', /colour is not supported/],
    ['a chained parameter', 'Task?owner.name=Riverside', /Chained/],
    [
      'an :identifier modifier',
      'Task?owner:identifier=https://fhir.nhs.uk/Id/ods-organization-code|SPX01',
      /modifier/,
    ],
    ['a result parameter', 'Task?_include=Task:focus', /not supported/],
    ['a type not watched', 'Patient?name=Smith', /Subscription.criteria searches one of/],
    ['a malformed date', 'Task?_lastUpdated=gt2026-13-45', /value of _lastUpdated/],
    ['a topic not offered', 'https://example.org/SubscriptionTopic/admission', /only topic offered/],
  ])('refuses criteria with %s: 400, not a subscription that never fires', async (_kind, criteria, why) => {
    const { a, hook, gp } = await setUp();
    const response = await a.as(gp, '/fhir/Subscription', { body: subscription(criteria, hook.url) });
    expect(response.status).toBe(400);
    expect(await diagnostics(response)).toMatch(why);
  });

  it('refuses what is not served rather than ignoring it', async () => {
    const { a, hook, gp } = await setUp();
    const email = {
      ...subscription('Task?status=accepted', hook.url),
      channel: { type: 'email', endpoint: 'mailto:gp@example.org' },
    };
    expect((await a.as(gp, '/fhir/Subscription', { body: email })).status).toBe(400);
    const xml = {
      ...subscription('Task?status=accepted', hook.url),
      channel: { type: 'rest-hook', endpoint: hook.url, payload: 'application/fhir+xml' },
    };
    expect((await a.as(gp, '/fhir/Subscription', { body: xml })).status).toBe(400);
    const header = {
      ...subscription('Task?status=accepted', hook.url),
      channel: { type: 'rest-hook', endpoint: hook.url, header: ['X-Signature: forged'] },
    };
    expect((await a.as(gp, '/fhir/Subscription', { body: header })).status).toBe(400);
    const weak = {
      ...subscription('Task?status=accepted', hook.url),
      extension: [
        { url: 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret', valueString: 'short' },
      ],
    };
    expect((await a.as(gp, '/fhir/Subscription', { body: weak })).status).toBe(400);
  });

  it('needs a scope naming Subscription (a wildcard is not enough), and reading what it watches', async () => {
    const { a, hook } = await setUp();
    const wildcard = await a.token(GP, 'system/*.rs');
    const refused = await a.as(wildcard, '/fhir/Subscription', {
      body: subscription('Task?status=accepted', hook.url),
    });
    expect(refused.status).toBe(403);
    const community = await a.token(COMMUNITY, 'system/ServiceRequest.c');
    expect((await a.as(community, '/fhir/Subscription')).status).toBe(403);
    // Subscription scope, but no reading of Task: watching Tasks is refused.
    const sp = await a.token(SP, 'system/Subscription.cruds system/CarePlan.r');
    const noTasks = await a.as(sp, '/fhir/Subscription', {
      body: subscription('Task?status=accepted', hook.url),
    });
    expect(noTasks.status).toBe(403);
    const plans = await a.as(sp, '/fhir/Subscription', {
      body: subscription('CarePlan?status=active', hook.url),
    });
    expect(plans.status).toBe(201);
  });

  it(`keeps at most ${MAX_PER_ORGANISATION} per organisation`, async () => {
    const { a, hook, gp, nurse } = await setUp();
    for (let i = 0; i < MAX_PER_ORGANISATION; i++) {
      const r = await a.as(gp, '/fhir/Subscription', {
        body: subscription('Task?status=accepted', hook.url),
      });
      expect(r.status).toBe(201);
    }
    const over = await a.as(gp, '/fhir/Subscription', {
      body: subscription('Task?status=accepted', hook.url),
    });
    expect(over.status).toBe(422);
    // Another organisation's allowance is its own.
    expect(
      (await a.as(nurse, '/fhir/Subscription', { body: subscription('Task?status=accepted', hook.url) }))
        .status,
    ).toBe(201);
  });
});

describe('a subscription is its organisation’s alone', () => {
  it('another organisation reads, changes, deletes, lists and asks the status of it as if it were not there', async () => {
    const { a, hook, gp, nurse } = await setUp();
    const mine = (await (
      await a.as(gp, '/fhir/Subscription', { body: subscription('Task?status=accepted', hook.url) })
    ).json()) as Subscription;
    const path = `/fhir/Subscription/${mine.id}`;
    const missing = `/fhir/Subscription/00000000-0000-4000-8000-000000000999`;
    const etag = `W/"${mine.meta?.versionId}"`;
    const replacement = { ...subscription('Task?status=completed', hook.url), id: mine.id };
    for (const [who, token] of [
      ['owner', gp],
      ['other', nurse],
    ] as const) {
      const answers = {
        read: (await a.as(token, path)).status,
        status: (await a.as(token, `${path}/$status`)).status,
        listed: ((await (await a.as(token, '/fhir/Subscription')).json()) as Bundle).total,
        byId: ((await (await a.as(token, `/fhir/Subscription?_id=${mine.id}`)).json()) as Bundle).total,
      };
      expect(answers, who).toEqual(
        who === 'owner'
          ? { read: 200, status: 200, listed: 1, byId: 1 }
          : { read: 404, status: 404, listed: 0, byId: 0 },
      );
      // The same answers as for one that does not exist.
      if (who === 'other') {
        expect((await a.as(token, missing)).status).toBe(404);
        const put = await a.as(token, path, {
          method: 'PUT',
          body: replacement,
          headers: { 'if-match': etag },
        });
        expect(put.status).toBe(404);
        expect((await a.as(token, path, { method: 'DELETE' })).status).toBe(404);
      }
    }
    // Still there, unchanged, for its owner.
    const read = (await (await a.as(gp, path)).json()) as Subscription;
    expect(read.criteria).toBe('Task?status=accepted');
  });

  it('is updated with If-Match (428 without, 412 when stale), paused, and deleted', async () => {
    const { a, hook, gp } = await setUp();
    const mine = (await (
      await a.as(gp, '/fhir/Subscription', { body: subscription('Task?status=accepted', hook.url) })
    ).json()) as Subscription;
    const path = `/fhir/Subscription/${mine.id}`;
    const off = {
      ...subscription('Task?status=accepted', hook.url, { status: 'off' }),
      id: mine.id,
      extension: [],
    };
    expect((await a.as(gp, path, { method: 'PUT', body: off })).status).toBe(428);
    expect(
      (await a.as(gp, path, { method: 'PUT', body: off, headers: { 'if-match': 'W/"stale"' } })).status,
    ).toBe(412);
    const paused = await a.as(gp, path, {
      method: 'PUT',
      body: off,
      headers: { 'if-match': `W/"${mine.meta?.versionId}"` },
    });
    expect(paused.status).toBe(200);
    const after = (await paused.json()) as Subscription;
    expect(after.status).toBe('off');
    // The secret is kept when none is sent.
    expect(after.extension?.[0]?.valueString).toBe(SECRET);
    expect(((await (await a.as(gp, '/fhir/Subscription?status=off')).json()) as Bundle).total).toBe(1);
    expect(((await (await a.as(gp, '/fhir/Subscription?status=active')).json()) as Bundle).total).toBe(0);
    expect((await a.as(gp, '/fhir/Subscription?status=sleeping')).status).toBe(400);
    expect((await a.as(gp, '/fhir/Subscription?criteria=Task')).status).toBe(400);
    expect((await a.as(gp, path, { method: 'DELETE' })).status).toBe(204);
    expect((await a.as(gp, path)).status).toBe(404);
  });
});

/** The store, failing every call but audit records while `failing` is set. */
function switchable(inner: FhirStore) {
  let failure: UpstreamFailure | undefined;
  const guard = <T>(type: string | undefined, run: () => Promise<T>) => {
    if (failure && type !== 'AuditEvent') throw new UpstreamError(failure);
    return run();
  };
  const store: FhirStore = {
    read: (type, id) => guard(type, () => inner.read(type, id)),
    readVersion: (type, id, v) => guard(type, () => inner.readVersion(type, id, v)),
    history: (type, id) => guard(type, () => inner.history(type, id)),
    search: (type, q) => guard(type, () => inner.search(type, q)),
    create: (r) => guard(r.resourceType, () => inner.create(r)),
    update: (r, o) => guard(r.resourceType, () => inner.update(r, o)),
    delete: (type, id) => guard(type, () => inner.delete(type, id)),
    bundle: (b, o) => guard(undefined, () => inner.bundle(b, o)),
    ping: () => guard(undefined, () => inner.ping()),
  };
  return { store, fail: (f: UpstreamFailure | undefined) => (failure = f) };
}

describe('when the store fails', () => {
  it.each([
    ['timeout', 504],
    ['unavailable', 503],
  ] as const)('every subscription route answers %s as %i, never 403, 404 or 422', async (failure, status) => {
    const s = switchable(createEmbeddedStore({ timeoutMs: 5_000 }).store);
    const { a, hook, gp } = await setUp({ store: s.store });
    const mine = (await (
      await a.as(gp, '/fhir/Subscription', { body: subscription('Task?status=accepted', hook.url) })
    ).json()) as Subscription;
    const path = `/fhir/Subscription/${mine.id}`;
    s.fail(failure);
    const answers = [
      await a.as(gp, '/fhir/Subscription', { body: subscription('Task?status=accepted', hook.url) }),
      await a.as(gp, path),
      await a.as(gp, `${path}/$status`),
      await a.as(gp, `${path}/$events`),
      await a.as(gp, '/fhir/Subscription'),
      await a.as(gp, path, {
        method: 'PUT',
        body: { ...subscription('Task?status=accepted', hook.url), id: mine.id },
        headers: { 'if-match': `W/"${mine.meta?.versionId}"` },
      }),
      await a.as(gp, path, { method: 'DELETE' }),
    ];
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => status));
    s.fail(undefined);
    expect((await a.as(gp, path)).status).toBe(200);
  });

  it('a notification whose store reads fail is tried again, and delivered once the store is back', async () => {
    const s = switchable(createEmbeddedStore({ timeoutMs: 5_000 }).store);
    const { a, hook, gp } = await setUp({
      store: s.store,
      policy: { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 200 },
      stopped: true,
    });
    await a.as(gp, '/fhir/Subscription', { body: subscription('ServiceRequest?status=active', hook.url) });
    const sent = await a.as(await a.token(GP, 'system/ServiceRequest.crs system/*.rs'), '/fhir', {
      body: exampleBody('01-gp-transaction-bundle.200'),
    });
    expect(sent.status).toBe(200);
    s.fail('unavailable');
    a.outbox.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.received).toHaveLength(0);
    s.fail(undefined);
    const [got] = await hook.waitFor(1, 3_000);
    expect(JSON.parse(got?.body ?? '{}').resourceType).toBe('ServiceRequest');
  });
});
