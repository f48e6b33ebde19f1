import type { Bundle, Resource } from '@medplum/fhirtypes';
import { afterEach, describe, expect, it } from 'vitest';
import { uniqueReferral } from '../../scripts/bench/referrals.ts';
import { seedDirectory } from '../../scripts/seed-lib.ts';
import { UpstreamError } from '../../src/medplum/errors.ts';
import {
  createMedplumClient,
  createMedplumStore,
  DEFAULT_RETRY,
  DEFAULT_TRANSACTION_CHECK,
  type FhirStore,
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

// Without the Project's transaction-bundles feature Medplum runs a transaction's entries one by
// one: an entry that fails leaves the ones before it stored, and a referral half written. The
// facade learns this from the readiness probe or the first transaction answered entry by entry,
// and then writes no referral at all until the feature is there.

afterEach(settleAudits);

/** The facade on a fake Medplum holding the directory; `clock` moves the store's own time. */
async function world(baseUrl: string, features: string[]) {
  const fake = fakeMedplum(baseUrl);
  server.use(...medplumHandlers(fake));
  let now = 0;
  const store: FhirStore = createMedplumStore(
    createMedplumClient({ baseUrl: fake.baseUrl, ...FAKE_MEDPLUM_CLIENT, timeoutMs: 5_000 }),
    { ...DEFAULT_RETRY, sleep: async () => {} },
    { ...DEFAULT_TRANSACTION_CHECK, now: () => now },
  );
  await seedDirectory(store);
  fake.features = features;
  const { app } = facadeOn(store);
  return {
    fake,
    app,
    store,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** What the referrals left in Medplum: everything but the directory and the audit trail. */
const referralParts = (fake: FakeMedplum): Resource[] =>
  fake.resources.filter(
    (r) => !['Organization', 'HealthcareService', 'Location', 'AuditEvent'].includes(r.resourceType),
  );

/** Transaction Bundles the fake was sent since the `from`th request (probes among them). */
async function transactionsSent(fake: FakeMedplum, from: number): Promise<number> {
  let count = 0;
  for (const request of fake.seen.slice(from)) {
    if (request.method !== 'POST' || new URL(request.url).pathname !== '/fhir/R4') continue;
    if (((await request.clone().json()) as Bundle).type === 'transaction') count++;
  }
  return count;
}

const send = (app: ReturnType<typeof createTestApp>['app'], n: number) =>
  call(app, '/fhir', { body: uniqueReferral(n, 'FEATURE') });

async function expectFeatureRefusal(response: Response) {
  const outcome = await expectOutcome(response, 503, 'not-supported');
  expect(outcome.issue[0].diagnostics).toMatch(/transaction-bundles feature/);
  expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
}

describe('a Medplum project without transaction-bundles', () => {
  it('takes no referral: 503 naming the feature, with Retry-After, and nothing written', async () => {
    const { fake, app } = await world('https://feature-off.test/', []);
    await expectFeatureRefusal(await send(app, 1));
    expect(referralParts(fake)).toEqual([]);
    // Remembered: the next referral is refused without a probe or a write.
    const seen = fake.seen.length;
    await expectFeatureRefusal(await send(app, 2));
    expect(await transactionsSent(fake, seen)).toBe(0);
    expect(referralParts(fake)).toEqual([]);
  });

  it('takes referrals again once the feature is added and the check is due again', async () => {
    const { fake, app, advance } = await world('https://feature-added.test/', []);
    await expectFeatureRefusal(await send(app, 1));
    fake.features = ['transaction-bundles'];
    await expectFeatureRefusal(await send(app, 1));
    advance(DEFAULT_TRANSACTION_CHECK.partialForMs);
    expect((await send(app, 1)).status).toBe(200);
  });

  it('is found out at the first transaction answered entry by entry, and written to no more', async () => {
    const { fake, app, store, advance } = await world('https://feature-removed.test/', [
      'transaction-bundles',
    ]);
    expect((await send(app, 1)).status).toBe(200);
    // The feature is taken away while the facade trusts what it learnt.
    fake.features = [];
    advance(1);
    const patient = { resourceType: 'Patient' as const, name: [{ family: 'Half' }] };
    const halfWritten = await store
      .bundle({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: patient, request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Task' } as never, request: { method: 'POST', url: 'Task' } },
        ],
      } satisfies Bundle)
      .catch((err: unknown) => err);
    expect(halfWritten).toBeInstanceOf(UpstreamError);
    expect(halfWritten).toMatchObject({ failure: 'no-transactions' });
    const parts = referralParts(fake).length;
    await expectFeatureRefusal(await send(app, 2));
    expect(referralParts(fake)).toHaveLength(parts);
  });

  it('still takes writes of one entry, which are whole by themselves', async () => {
    const { fake, store } = await world('https://feature-single.test/', []);
    const answer = await store.bundle({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: { resourceType: 'Patient', name: [{ family: 'Whole' }] },
          request: { method: 'POST', url: 'Patient', ifNoneExist: 'name=Whole' },
        },
      ],
    });
    expect(answer.entry?.[0]?.response?.status).toBe('201');
    expect(referralParts(fake)).toHaveLength(1);
  });
});
