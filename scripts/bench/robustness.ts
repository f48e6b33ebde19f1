/**
 * `npm run bench` (part): what one request costs at worst, and how many calls to Medplum each
 * operation makes.
 *   1. calls to Medplum per operation, counted at the port: intake of a new person's referral from
 *      a known practice to a known service, its retry, a Task move, the summary
 *   2. the worst request times found: bodies just under MAX_BODY_BYTES built to be expensive
 *      (a long string where an array belongs, many small wrong values, thousands of entries,
 *      deep nesting), each the median of 5 sends
 */
import type { Bundle } from '@medplum/fhirtypes';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { createJsonLogger } from '../../src/logger.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { exampleReferral, uniqueReferral } from './referrals.ts';

indexDefinitions();
const { store: base } = createEmbeddedStore({ timeoutMs: 30_000 });
await seedEmbeddedStore(base);
const calls: string[] = [];
const counted = Object.fromEntries(
  Object.entries(base).map(([name, fn]) => [
    name,
    (...args: unknown[]) => {
      calls.push(name);
      return (fn as (...a: unknown[]) => unknown)(...args);
    },
  ]),
) as unknown as FhirStore;
const config = parseConfig({ LOG_LEVEL: 'silent' });
const app = createApp({
  config,
  store: counted,
  clock: () => new Date(),
  newId: () => crypto.randomUUID(),
  logger: createJsonLogger('silent'),
  // Audit records are written after the answer; counted apart below.
  audit: { record: () => {}, flush: async () => {}, stats: () => ({ written: 0, pending: 0 }) },
});
const send = async (path: string, init: RequestInit = {}): Promise<Response> =>
  app.request(`http://facade.test${path}`, {
    ...init,
    headers: { 'content-type': 'application/fhir+json', ...(init.headers as Record<string, string>) },
  });

async function count(label: string, fn: () => Promise<Response>): Promise<Response> {
  calls.length = 0;
  const response = await fn();
  const kinds = [...new Set(calls)].map((k) => `${calls.filter((c) => c === k).length} ${k}`).join(', ');
  console.log(`calls to Medplum, ${label}: ${calls.length} (${kinds}) -> ${response.status}`);
  return response;
}

// 1. Calls per operation. A warm-up referral first, so the practice and practitioners are known.
await send('/fhir', { method: 'POST', body: uniqueReferral(1, 'calls') });
const body = uniqueReferral(2, 'calls');
const sent = (await (
  await count('intake (new person, known practice and service)', () =>
    send('/fhir', { method: 'POST', body }),
  )
).json()) as Bundle;
await count('the same referral again (a retry)', () => send('/fhir', { method: 'POST', body }));
const srId = sent.entry
  ?.map((e) => e.response?.location ?? '')
  .find((l) => l.startsWith('ServiceRequest/'))
  ?.split('/')[1];
const patientId = sent.entry
  ?.map((e) => e.response?.location ?? '')
  .find((l) => l.startsWith('Patient/'))
  ?.split('/')[1];
await count('a Task move ($accept)', () => send(`/referrals/${srId}/$accept`, { method: 'POST' }));
await count('the summary operation', () => send(`/fhir/Patient/${patientId}/$social-prescribing-summary`));
console.log('(plus one AuditEvent write per request, after the answer)');

// 2. Worst cases, each just under the body limit.
const LIMIT = config.maxBodyBytes - 1024;
const withPatient = (patch: (patient: Record<string, unknown>) => void): string => {
  const bundle = structuredClone(exampleReferral);
  const patient = bundle.entry?.find((e) => e.resource?.resourceType === 'Patient')
    ?.resource as unknown as Record<string, unknown>;
  patch(patient);
  return JSON.stringify(bundle);
};
const cases: [string, string][] = [
  ['a string where an array belongs (Patient.name)', withPatient((p) => (p.name = 'x'.repeat(LIMIT - 4000)))],
  [
    'an array of one-character strings where objects belong',
    withPatient((p) => (p.name = Array(Math.floor((LIMIT - 4000) / 4)).fill('x'))),
  ],
  [
    'wrong values in many elements (Patient.telecom × 20,000)',
    withPatient((p) => (p.telecom = Array(20_000).fill({ system: 'nope', value: 1 }))),
  ],
  [
    'a Bundle of 4,000 Condition entries',
    (() => {
      const bundle = structuredClone(exampleReferral);
      const condition = {
        resourceType: 'Condition',
        subject: { reference: 'urn:uuid:6a1f0c3e-0000-4000-8000-000000000001' },
        code: { text: 'x' },
      };
      for (let i = 0; i < 4000; i++)
        bundle.entry?.push({
          fullUrl: `urn:uuid:${crypto.randomUUID()}`,
          resource: condition as never,
          request: { method: 'POST', url: 'Condition' },
        });
      return JSON.stringify(bundle);
    })(),
  ],
  ['nesting 100,000 deep', `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`],
];
for (const [label, text] of cases) {
  const times: number[] = [];
  let status = 0;
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const response = await send('/fhir', { method: 'POST', body: text });
    status = response.status;
    await response.text();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(
    `worst case: ${label} (${(text.length / 1024).toFixed(0)} KiB): median ${times[2]?.toFixed(0)} ms, max ${times[4]?.toFixed(0)} ms -> ${status}`,
  );
}
