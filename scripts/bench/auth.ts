/**
 * Part of `npm run bench`: what authentication, tenancy and audit cost on referral intake.
 * The same BENCH_AUTH_REFERRALS referrals (default 1,000), one at a time, in process, on the
 * embedded store in memory: once in the open local mode, once with clients registered (a bearer
 * token on every request, checked; tenancy labels written; an AuditEvent stored per request).
 * Also the median time to obtain a token (assertion signed by the client, checked, token signed).
 */
import { readFileSync } from 'node:fs';
import { createApp } from '../../src/app.ts';
import { createStoreAuditSink } from '../../src/audit/audit-sink.ts';
import { type AuthMode, createAuthMode } from '../../src/auth/mode.ts';
import { generateSigningKeyJwk } from '../../src/auth/tokens.ts';
import { parseConfig } from '../../src/config.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { createJsonLogger } from '../../src/logger.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import { clientAssertion, getAccessToken, tokenForm } from '../smart-client.ts';
import { testClientKey } from '../test-client-keys.ts';
import { uniqueReferral } from './referrals.ts';

const TOTAL = Number(process.env.BENCH_AUTH_REFERRALS ?? 1_000);
const BASE = 'http://bench.local';
const GP = 'riverside-medical-gp-system';

async function run(label: string, auth: AuthMode, total = TOTAL) {
  const { store } = createEmbeddedStore({ timeoutMs: 60_000 });
  await seedEmbeddedStore(store);
  const logger = createJsonLogger('silent');
  const audit = createStoreAuditSink(store, logger);
  const app = createApp({
    config: parseConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '1000000', PUBLIC_BASE_URL: BASE }),
    store,
    clock: () => new Date(),
    newId: () => crypto.randomUUID(),
    logger,
    auth,
    audit,
  });
  const token =
    auth.kind === 'tokens'
      ? await getAccessToken((r) => app.fetch(r), BASE, testClientKey(GP), 'system/ServiceRequest.crs')
      : undefined;
  const latencies: number[] = [];
  const started = performance.now();
  for (let n = 0; n < total; n++) {
    const t0 = performance.now();
    const response = await app.fetch(
      new Request(`${BASE}/fhir`, {
        method: 'POST',
        headers: {
          'content-type': 'application/fhir+json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: uniqueReferral(n, label),
      }),
    );
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${label}: referral ${n} answered ${response.status}`);
    latencies.push(performance.now() - t0);
  }
  await audit.flush();
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
  return {
    label,
    p50: latencies[Math.floor(latencies.length / 2)] as number,
    mean,
    seconds,
    audit: audit.stats(),
    app,
  };
}

const pct = (ratio: number) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)} %`;

indexDefinitions();
console.log(`authentication, tenancy and audit on intake (${TOTAL} referrals each, sequential, in process):`);
// A warm-up, so that neither measured run pays for the JIT.
await run('warm-up', { kind: 'open' }, 300);
const open = await run('open', { kind: 'open' });
const secured = await run(
  'secured',
  await createAuthMode({
    clients: readFileSync(new URL('../../examples/auth/clients.json', import.meta.url), 'utf8'),
    signingKey: JSON.stringify(await generateSigningKeyJwk()),
    openWhenUnconfigured: false,
    clock: () => new Date(),
  }),
);
for (const r of [open, secured]) {
  console.log(
    `  ${r.label.padEnd(8)} p50 ${r.p50.toFixed(2)} ms, mean ${r.mean.toFixed(2)} ms, ${r.seconds.toFixed(1)} s in all (audit records written: ${r.audit.written})`,
  );
}
console.log(
  `  overhead: p50 ${pct(secured.p50 / open.p50)}, mean ${pct(secured.mean / open.mean)}, whole run ${pct(secured.seconds / open.seconds)}`,
);

const tokenTimes: number[] = [];
const key = testClientKey(GP);
for (let i = 0; i < 200; i++) {
  const t0 = performance.now();
  const response = await secured.app.fetch(
    new Request(`${BASE}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: tokenForm(await clientAssertion(key, `${BASE}/oauth2/token`), 'system/ServiceRequest.crs'),
    }),
  );
  await response.arrayBuffer();
  tokenTimes.push(performance.now() - t0);
}
tokenTimes.sort((a, b) => a - b);
console.log(
  `  token request (assertion signed ES384 by the client, checked, ES256 token signed): median ${(tokenTimes[100] as number).toFixed(2)} ms`,
);
