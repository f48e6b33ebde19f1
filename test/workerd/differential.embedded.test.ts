import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import type { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import gpSendsReferral from '../../examples/journey/01-gp-sends-referral.200.request.json';
import { buildWorkerApp, type WorkerEnv } from '../../src/edge/worker-app.ts';
import type { AppEnv } from '../../src/http/env.ts';
import { type Answer, Normaliser } from '../differential/normalise.ts';
import { FACADE } from './isolates.ts';
import { COMMUNITY, GP } from './referrals.ts';
import { tokenFor } from './token.ts';

// The differential's fixed cases in workerd: the Worker's code on two embedded stores of its own
// (hosts diff-quiet.test and diff-busy.test) that differ only in what another organisation (the
// community centre, RCC01) did. The practice's requests must be answered alike by both.

const NHS = '9990000042';
const MISSING = 'ffffffff-ffff-4fff-bfff-000000000001';

interface World {
  app: Hono<AppEnv>;
  normaliser: Normaliser;
  /** Ids the practice has been shown, by type, in order. */
  own: Map<string, string[]>;
  /** The id of the person another organisation referred (busy), or one no store holds (quiet). */
  theirs: string;
}

async function world(host: string): Promise<World> {
  const app = await buildWorkerApp({ ...(env as WorkerEnv), MEDPLUM_BASE_URL: `https://${host}/` });
  return { app, normaliser: new Normaliser(), own: new Map(), theirs: MISSING };
}

async function send(
  w: World,
  token: string,
  path: string,
  body?: unknown,
  contentType = 'application/fhir+json',
) {
  const ctx = createExecutionContext();
  const response = await w.app.fetch(
    new Request(`${FACADE}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': contentType }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
    env,
    ctx,
  );
  const text = await response.text();
  await waitOnExecutionContext(ctx);
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  return { status: response.status, headers, body: text ? JSON.parse(text) : '' } as Answer;
}

/** The journey's referral, for `nhs` with the given name and birth date, under `id`. */
function referral(id: string, family: string, birthDate: string): Bundle {
  const text = JSON.stringify(gpSendsReferral.body).replaceAll('9990000042', NHS);
  const bundle = JSON.parse(text) as Bundle;
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource;
    if (resource?.resourceType === 'Patient') {
      resource.name = [{ family, given: ['Someone'] }];
      resource.birthDate = birthDate;
    }
    if (resource?.resourceType === 'ServiceRequest' && resource.identifier?.[0])
      resource.identifier[0].value = id;
  }
  return bundle;
}

let gp: string;
let community: string;
let quiet: World;
let busy: World;

beforeAll(async () => {
  gp = await tokenFor(GP, 'system/ServiceRequest.crs system/*.rs');
  community = await tokenFor(COMMUNITY, 'system/ServiceRequest.c system/*.rs');
  quiet = await world('diff-quiet.test');
  busy = await world('diff-busy.test');
  // Only in the busy world: the community centre refers the same person, with its own details.
  const theirs = await send(
    busy,
    community,
    '/referrals',
    {
      referralId: 'RCC-DIFF-1',
      patient: { nhsNumber: NHS, givenName: 'Their', familyName: 'Version', birthDate: '1950-01-01' },
      referrer: { name: 'Sam Patel', organisation: { name: 'Riverside Community Centre (example)' } },
      receivingServiceOdsCode: 'SPX01',
      reasons: [{ snomedCode: '422650009' }],
      consent: { given: true, date: '2026-11-19T14:00:00Z' },
      authoredOn: '2026-11-19T14:05:00Z',
    },
    'application/json',
  );
  expect(theirs.status).toBe(201);
  busy.theirs = (theirs.body as { patient: { id: string } }).patient.id;
}, 60_000);

/** The practice's request to both worlds; the answers, normalised, must be equal. */
async function same(path: (w: World) => string, body?: unknown): Promise<Answer> {
  const answers: Answer[] = [];
  for (const w of [quiet, busy]) {
    const raw = await send(w, gp, path(w), body);
    const text = JSON.stringify(raw.body);
    for (const match of text.matchAll(/"(Patient|ServiceRequest)\/([0-9a-f-]{36})/g)) {
      const list = w.own.get(match[1] as string) ?? [];
      if (!list.includes(match[2] as string)) list.push(match[2] as string);
      w.own.set(match[1] as string, list);
    }
    answers.push(w.normaliser.normalise(raw));
  }
  expect(answers[1], path(busy)).toEqual(answers[0]);
  return answers[0] as Answer;
}

const ownId = (w: World, type: string) => w.own.get(type)?.[0] ?? MISSING;

describe('the differential in workerd: one practice’s answers do not depend on another’s referrals', () => {
  it('a referral of a person another organisation has on record, and reading it back', async () => {
    const sent = await same(() => '/fhir', referral('DIFF-1', 'Madeup', '1990-01-01'));
    expect(sent.status).toBe(200);
    const patient = await same((w) => `/fhir/Patient/${ownId(w, 'Patient')}`);
    expect(patient.status).toBe(200);
    expect((patient.body as Patient).birthDate).toBe('1990-01-01');
    await same((w) => `/fhir/Patient/${ownId(w, 'Patient')}/_history`);
    await same(
      (w) => `/fhir/ServiceRequest?_id=${ownId(w, 'ServiceRequest')}&_include=ServiceRequest:patient`,
    );
    await same(() => `/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|${NHS}`);
    await same((w) => `/fhir/Patient/${ownId(w, 'Patient')}/$social-prescribing-summary`);
  });

  it('another organisation’s record and the service’s labels are out of reach', async () => {
    const read = await same((w) => `/fhir/Patient/${w.theirs}`);
    expect(read.status).toBe(404);
    await same((w) => `/fhir/Patient/${w.theirs}/_history`);
    expect((await same(() => '/fhir/Patient?_sort=_security')).status).toBe(400);
  });
});
