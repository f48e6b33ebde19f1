import type { Bundle } from '@medplum/fhirtypes';
import { beforeEach, describe, expect, it } from 'vitest';
import { call } from '../support/app.ts';
import { fakeMedplum, medplumHandlers } from '../support/medplum-handlers.ts';
import { server } from '../support/msw.ts';
import { exampleBody, postBundle, seededApp } from '../support/referrals.ts';
import { remoteStore } from '../support/remote-medplum.ts';

const fake = fakeMedplum('https://medplum-dates.test/');
beforeEach(() => {
  server.use(...medplumHandlers(fake));
});

describe.each(['embedded', 'fake'] as const)('a date searched on a dateTime, on the %s store', (kind) => {
  it('finds every time in that day, month or year (UK), and nothing outside it', async () => {
    server.use(...medplumHandlers(fake));
    const { app } = await seededApp({}, kind === 'fake' ? { store: remoteStore(fake) } : {});
    // Example 01 was authored 2026-11-18T10:20:00Z.
    expect((await postBundle(app, exampleBody('01-gp-transaction-bundle.200'))).status).toBe(200);
    const found = async (value: string) =>
      ((await (await call(app, `/fhir/ServiceRequest?authored=${value}&_total=accurate`)).json()) as Bundle)
        .total;
    expect(await found('2026-11-18')).toBe(1);
    expect(await found('eq2026-11-18')).toBe(1);
    expect(await found('2026-11')).toBe(1);
    expect(await found('2026')).toBe(1);
    expect(await found('2026-11-19')).toBe(0);
    expect(await found('2026-11-17')).toBe(0);
    expect(await found('ge2026-11-18')).toBe(1);
  });
});
