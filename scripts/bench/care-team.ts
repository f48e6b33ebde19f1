/**
 * `npm run bench` (part): care-team sharing on the embedded store, in process, clients registered.
 *   1. the meeting list of a district nursing team (RDN01) in the care teams of BENCH_TEAM_PEOPLE
 *      people (default 200), each referred, accepted, planned and shared on consent, after 20
 *      changes since the last meeting (a measure recorded for 10 people, a referral moved on for 10)
 *   2. a plan read by id as a team member (through its care-team label) and as the service keeping
 *      it, alternately, and the ratio of their medians
 */
import { createApp } from '../../src/app.ts';
import { createStoreAuditSink } from '../../src/audit/audit-sink.ts';
import { createAuthMode } from '../../src/auth/mode.ts';
import { generateSigningKeyJwk } from '../../src/auth/tokens.ts';
import { parseConfig } from '../../src/config.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { createJsonLogger } from '../../src/logger.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import { getAccessToken } from '../smart-client.ts';
import { testClientKey } from '../test-client-keys.ts';
import { uniqueReferral } from './referrals.ts';

const PEOPLE = Number(process.env.BENCH_TEAM_PEOPLE ?? 200);
const LISTS = 100;
const READS = 500;
const BASE = 'http://bench.local';

indexDefinitions();
const { store } = createEmbeddedStore({ timeoutMs: 60_000 });
await seedEmbeddedStore(store);
const logger = createJsonLogger('silent');
const registry = await import('../../examples/auth/clients.json', { with: { type: 'json' } });
const auth = await createAuthMode({
  clients: JSON.stringify(registry.default),
  signingKey: JSON.stringify(await generateSigningKeyJwk()),
  openWhenUnconfigured: false,
  clock: () => new Date(),
});
const app = createApp({
  config: parseConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '10000000', PUBLIC_BASE_URL: BASE }),
  store,
  clock: () => new Date(),
  newId: () => crypto.randomUUID(),
  logger,
  auth,
  audit: createStoreAuditSink(store, logger),
});
const token = (clientId: string, scope: string) =>
  getAccessToken((r) => app.fetch(r), BASE, testClientKey(clientId), scope);
const gp = await token('riverside-medical-gp-system', 'system/ServiceRequest.crs');
const sp = await token(
  'riverside-social-prescribing',
  'system/*.rs system/Task.rus system/CarePlan.cruds system/QuestionnaireResponse.crs system/Consent.cu',
);
const nurse = await token('riverside-district-nursing', 'system/*.rs');
const admin = await token('riverside-directory-admin', 'system/Organization.crus');

async function send(bearer: string, path: string, body?: unknown, type = 'application/json') {
  const response = await app.fetch(
    new Request(`${BASE}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${bearer}`,
        ...(body === undefined ? {} : { 'content-type': type }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    }),
  );
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${path} answered ${response.status}: ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : undefined;
}

await send(
  admin,
  '/fhir/Organization',
  {
    resourceType: 'Organization',
    identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RDN01' }],
    name: 'Riverside District Nursing (example)',
    active: true,
  },
  'application/fhir+json',
);

const started = performance.now();
const people: { srId: string; planId: string }[] = [];
for (let n = 0; n < PEOPLE; n++) {
  const sent = await send(gp, '/fhir', uniqueReferral(n, 'TEAM'), 'application/fhir+json');
  const srId = (sent.entry as { response: { location: string } }[])
    .map((e) => e.response.location)
    .find((l) => l.startsWith('ServiceRequest/'))
    ?.split('/')[1] as string;
  await send(sp, `/referrals/${srId}/$accept`, { businessStatus: 'contacted' });
  const plan = await send(sp, `/referrals/${srId}/care-plan`, {
    whatMattersToMe: 'Getting out more',
    author: { name: 'Link worker' },
    goals: [{ description: 'Lunch club on Thursdays' }],
    careTeam: [
      { name: 'Link worker', role: 'link-worker' },
      { name: 'District nurse', role: 'district-nurse', organisation: { odsCode: 'RDN01' } },
    ],
  });
  await send(sp, `/referrals/${srId}/care-team/consent`, { decision: 'share' });
  people.push({ srId, planId: plan.carePlan.id });
}
const setupSeconds = (performance.now() - started) / 1000;

// The last meeting, then a week's 20 changes.
await new Promise((r) => setTimeout(r, 5));
const since = new Date().toISOString();
await new Promise((r) => setTimeout(r, 5));
for (const { srId } of people.slice(0, 10)) {
  await send(sp, `/referrals/${srId}/outcomes`, {
    measure: 'ons4-personal-wellbeing',
    answers: { 'life-satisfaction': 6, worthwhile: 6, happiness: 5, anxiety: 4 },
  });
}
for (const { srId } of people.slice(10, 20)) {
  await send(sp, `/referrals/${srId}/$start`, { businessStatus: 'first-conversation-held' });
}

const timed = async (fn: () => Promise<unknown>, times: number) => {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number;
  return { p50: at(0.5), p99: at(0.99) };
};

let listed: { people: { changes: unknown[] }[] } = { people: [] };
const list = await timed(async () => {
  listed = await send(nurse, `/care-team/meeting-list?since=${encodeURIComponent(since)}`);
}, LISTS);
const changes = listed.people.reduce((n, p) => n + p.changes.length, 0);
console.log(
  `care team: ${PEOPLE} people referred, planned and shared on consent in ${setupSeconds.toFixed(1)} s; the team's meeting list (${listed.people.length} people, ${changes} changes since the last meeting): p50 ${list.p50.toFixed(1)} ms, p99 ${list.p99.toFixed(1)} ms over ${LISTS} requests`,
);

const member: number[] = [];
const keeper: number[] = [];
for (let i = 0; i < READS; i++) {
  const { planId } = people[i % people.length] as { planId: string };
  for (const [who, samples] of [
    [nurse, member],
    [sp, keeper],
  ] as const) {
    const t0 = performance.now();
    await send(who, `/fhir/CarePlan/${planId}`);
    samples.push(performance.now() - t0);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(
  `care team: a plan read as a team member p50 ${median(member).toFixed(2)} ms, as the service keeping it p50 ${median(keeper).toFixed(2)} ms (ratio ${(median(member) / median(keeper)).toFixed(2)}), ${READS} reads each`,
);
