import { conflict } from '@medplum/core';
import type { Bundle, Parameters, ServiceRequest } from '@medplum/fhirtypes';
import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { uniqueReferral } from '../../scripts/bench/referrals.ts';
import { seedDirectory } from '../../scripts/seed-lib.ts';
import { StoreError, UpstreamError } from '../../src/medplum/errors.ts';
import {
  createMedplumClient,
  createMedplumStore,
  DEFAULT_RETRY,
  type FhirStore,
  type RetryPolicy,
} from '../../src/medplum/store.ts';
import { call, type createTestApp, expectOutcome } from '../support/app.ts';
import {
  FAKE_MEDPLUM_CLIENT,
  type FakeMedplum,
  fakeMedplum,
  medplumHandlers,
} from '../support/medplum-handlers.ts';
import { server } from '../support/msw.ts';
import { facadeOn, settleAudits } from '../support/remote-medplum.ts';

afterEach(settleAudits);

// Medplum runs a transaction holding a conditional create as SERIALIZABLE; when it loses to a
// concurrent one three times it answers 409 with the code 40001. That is the store being busy,
// not a duplicate: the facade repeats the write, and tells the sender to retry only when the
// store keeps refusing it.

/** Retries without waiting, for a store made to fail on purpose. */
const IMPATIENT: RetryPolicy = { ...DEFAULT_RETRY, sleep: async () => {} };

function storeFor(fake: FakeMedplum, policy: RetryPolicy = DEFAULT_RETRY): FhirStore {
  return createMedplumStore(
    createMedplumClient({ baseUrl: fake.baseUrl, ...FAKE_MEDPLUM_CLIENT, timeoutMs: 10_000 }),
    policy,
  );
}

/** The facade on a fake Medplum holding the directory, and a first referral from the practice. */
async function world(baseUrl: string, policy?: RetryPolicy) {
  const fake = fakeMedplum(baseUrl);
  server.use(...medplumHandlers(fake));
  const store = storeFor(fake, policy);
  await seedDirectory(store);
  const { app } = facadeOn(store);
  // The practice and its practitioners become known, so later referrals share nothing to lock on.
  expect((await send(app, 0)).status).toBe(200);
  return { fake, app };
}

const send = (app: ReturnType<typeof createTestApp>['app'], n: number) =>
  call(app, '/fhir', { body: uniqueReferral(n, 'CONTENTION') });

const storedReferrals = (fake: FakeMedplum, n: number) =>
  fake.resources.filter(
    (r): r is ServiceRequest =>
      r.resourceType === 'ServiceRequest' &&
      (r as ServiceRequest).identifier?.some((i) => i.value === `BENCH-CONTENTION-${n}`) === true,
  );

describe('the fake Medplum under concurrent transactions', () => {
  it('answers some of 20 concurrent conditional transactions 409 with 40001, as Medplum does', async () => {
    const fake = fakeMedplum('https://contention-fake.test/');
    server.use(...medplumHandlers(fake));
    const client = createMedplumClient({ baseUrl: fake.baseUrl, ...FAKE_MEDPLUM_CLIENT, timeoutMs: 10_000 });
    await client.startClientLogin(FAKE_MEDPLUM_CLIENT.clientId, FAKE_MEDPLUM_CLIENT.clientSecret);
    const transaction = (n: number): Bundle => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: { resourceType: 'Organization', name: `Org ${n}`, alias: [String(n)] },
          request: { method: 'POST', url: 'Organization', ifNoneExist: `name=Org ${n}` },
        },
      ],
    });
    const answers = await Promise.allSettled(
      Array.from({ length: 20 }, (_, n) => client.executeBatch(transaction(n))),
    );
    const refused = answers.flatMap((a) => (a.status === 'rejected' ? [a.reason] : []));
    expect(refused.length).toBeGreaterThan(0);
    for (const reason of refused) {
      expect(reason.outcome.issue[0]).toMatchObject({
        code: 'conflict',
        details: {
          coding: [{ code: '40001' }],
          text: 'could not serialize access due to read/write dependencies among transactions',
        },
      });
    }
    expect(fake.resources).toHaveLength(20 - refused.length);
  });
});

describe('a write the store rolled back for contention', () => {
  it('is the store’s failure, not a conflict; a real 409 stays the caller’s', async () => {
    const fake = fakeMedplum('https://contention-port.test/');
    server.use(...medplumHandlers(fake));
    const store = storeFor(fake, { ...IMPATIENT, contentionRetries: 0 });
    const patient = { resourceType: 'Patient' as const, name: [{ family: 'Okafor' }] };
    fake.repo.failSerializable = 1;
    const lost = await store
      .bundle({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: patient, request: { method: 'POST', url: 'Patient', ifNoneExist: 'name=Okafor' } },
        ],
      })
      .catch((err: unknown) => err);
    expect(lost).toBeInstanceOf(UpstreamError);
    expect(lost).toMatchObject({ failure: 'contention', upstreamStatus: 409 });
    // A conflict that is the request's own stays a conflict, and is not repeated.
    let puts = 0;
    server.use(
      http.put(`${fake.baseUrl}fhir/R4/Patient/:id`, () => {
        puts++;
        return HttpResponse.json(conflict('Version conflict'), { status: 409 });
      }),
    );
    const stored = await store.create(patient);
    const refused = await store.update(stored).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(StoreError);
    expect(refused).toMatchObject({ refusal: 'conflict' });
    expect(puts).toBe(1);
  });

  it('is written again: the store refusing the first two transactions, the referral is stored once', async () => {
    const { fake, app } = await world('https://contention-twice.test/', IMPATIENT);
    fake.repo.failSerializable = 2;
    const response = await send(app, 1);
    expect(response.status).toBe(200);
    expect(fake.repo.failSerializable).toBe(0);
    expect(storedReferrals(fake, 1)).toHaveLength(1);
  });

  it('is answered 503 with Retry-After, never 409, when the store keeps refusing it', async () => {
    const { fake, app } = await world('https://contention-always.test/', IMPATIENT);
    fake.repo.failSerializable = Number.POSITIVE_INFINITY;
    const response = await send(app, 1);
    const outcome = await expectOutcome(response, 503, 'transient');
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(JSON.stringify(outcome)).not.toContain('40001');
    expect(storedReferrals(fake, 1)).toHaveLength(0);
    // Resent once the store has room, it is stored.
    fake.repo.failSerializable = 0;
    expect((await send(app, 1)).status).toBe(200);
    expect(storedReferrals(fake, 1)).toHaveLength(1);
  });

  it('never refuses one of 20 different referrals sent at once: each is stored, once', async () => {
    const { fake, app } = await world('https://contention-twenty.test/');
    // As long as a conditional transaction takes on a real Medplum, so that concurrent ones overlap.
    fake.repo.serializableMs = 25;
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => send(app, i + 1)));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    for (let n = 1; n <= 20; n++) expect(storedReferrals(fake, n)).toHaveLength(1);
  });
});

describe('an Open Referral import the store rolls back for contention', () => {
  const IMPORT = '/fhir/HealthcareService/$import-open-referral';
  const feed = [1, 2, 3].map((n) => ({
    id: `contended-${n}`,
    name: `Contended service ${n}`,
    organization: { id: 'contended-org', name: 'Contended organisation' },
  }));
  const importFeed = (app: ReturnType<typeof createTestApp>['app']) =>
    call(app, IMPORT, { body: feed, headers: { 'content-type': 'application/json' } });
  const stored = (fake: FakeMedplum, name: string) =>
    fake.resources.filter((r) => (r as { name?: string }).name === name);
  const refusedCount = async (response: Response) =>
    ((await response.json()) as Parameters).parameter?.find((p) => p.name === 'refused')?.valueInteger;

  it('sends the rolled-back records again: each stored once, none refused', async () => {
    const { fake, app } = await world('https://contention-import.test/', IMPATIENT);
    fake.repo.failSerializable = 2;
    const response = await importFeed(app);
    expect(response.status).toBe(200);
    expect(await refusedCount(response)).toBe(0);
    expect(fake.repo.failSerializable).toBe(0);
    expect(stored(fake, 'Contended organisation')).toHaveLength(1);
    for (const { name } of feed) expect(stored(fake, name)).toHaveLength(1);
  });

  it('is answered 503 with Retry-After when the store keeps refusing; sent again, it stores the rest once', async () => {
    const { fake, app } = await world('https://contention-import-always.test/', IMPATIENT);
    fake.repo.failSerializable = Number.POSITIVE_INFINITY;
    const response = await importFeed(app);
    await expectOutcome(response, 503, 'transient');
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    fake.repo.failSerializable = 0;
    const again = await importFeed(app);
    expect(again.status).toBe(200);
    expect(await refusedCount(again)).toBe(0);
    expect(stored(fake, 'Contended organisation')).toHaveLength(1);
    for (const { name } of feed) expect(stored(fake, name)).toHaveLength(1);
  });
});
