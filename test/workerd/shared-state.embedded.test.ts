import { env, listDurableObjectIds } from 'cloudflare:test';
import type { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AppEnv } from '../../src/http/env.ts';
import {
  assertionFor,
  call,
  countOf,
  exchange,
  newNhsNumber,
  outcomesOf,
  REFERRAL_SYSTEM,
  referralFor,
  tokenFrom,
  twoIsolates,
} from './isolates.ts';

// Two apps as two Worker isolates build them, against one embedded Medplum: what one isolate
// knows in memory the other does not, so only the Durable Objects can keep them in step.

const GP = 'riverside-medical-gp-system';
const SCOPE = 'system/ServiceRequest.crs system/*.rs';
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';

let a: Hono<AppEnv>;
let b: Hono<AppEnv>;
let token: string;
beforeAll(async () => {
  [a, b] = await twoIsolates();
  token = await tokenFrom(a, GP, SCOPE);
});

/** Posts a referral Bundle to one app as the GP system. */
const post = (app: Hono<AppEnv>, body: string, headers: Record<string, string> = {}) =>
  call(app, '/fhir', {
    body,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', ...headers },
  });

const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

describe('two isolates sharing Durable Objects, against an embedded Medplum', () => {
  it('stores 50 concurrent copies of one new referral, split between them, once', async () => {
    const nhsNumber = newNhsNumber();
    const referralId = unique('RMP-SHARED');
    const body = referralFor(nhsNumber, referralId);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => post(i % 2 === 0 ? a : b, body)));
    expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 50 }, () => 200));
    const outcomes = answers.map((r) => outcomesOf(r.text));
    // One intake created the referral; the other 49 were answered as its retries.
    const creating = outcomes.filter((o) => o.some((e) => e.status.startsWith('201')));
    expect(creating).toHaveLength(1);
    for (const o of outcomes) {
      if (o !== creating[0]) expect(o.every((e) => e.status.startsWith('200'))).toBe(true);
    }
    const srIds = new Set(
      outcomes.map((o) => o.find((e) => e.location.startsWith('ServiceRequest/'))?.location),
    );
    expect(srIds.size).toBe(1);

    expect(await countOf(a, token, `ServiceRequest?identifier=${REFERRAL_SYSTEM}|${referralId}`)).toBe(1);
    expect(await countOf(b, token, `Task?focus=${[...srIds][0]}`)).toBe(1);
    expect(await countOf(a, token, `Patient?identifier=${NHS}|${nhsNumber}`)).toBe(1);
    // The locks were taken from the shard objects, not in either app's memory.
    expect((await listDurableObjectIds(env.LOCK_SHARDS)).length).toBeGreaterThan(0);
  }, 180_000);

  it('makes one Patient of 20 concurrent referrals of one new person, split between them', async () => {
    const nhsNumber = newNhsNumber();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        post(i % 2 === 0 ? a : b, referralFor(nhsNumber, unique(`RMP-PERSON-${i}`))),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 200));
    const patients = new Set(
      answers.map((r) => outcomesOf(r.text).find((e) => e.location.startsWith('Patient/'))?.location),
    );
    expect(patients.size).toBe(1);
    expect(await countOf(b, token, `Patient?identifier=${NHS}|${nhsNumber}`)).toBe(1);
    expect(await countOf(a, token, `ServiceRequest?subject=${[...patients][0]}`)).toBe(20);
  }, 120_000);

  it('refuses on one isolate a client assertion accepted on the other', async () => {
    const assertion = await assertionFor(GP);
    const first = await exchange(a, assertion, SCOPE);
    expect(first.status).toBe(200);
    const replayed = await exchange(b, assertion, SCOPE);
    expect(replayed.status).toBe(401);
    expect(JSON.parse(replayed.text)).toMatchObject({ error: 'invalid_client' });
    // The same client with a fresh assertion is served there.
    expect((await exchange(b, await assertionFor(GP), SCOPE)).status).toBe(200);
  });

  it('answers an X-Request-ID repeated on the other isolate with the original response, and 409 to another body', async () => {
    const requestId = unique('shared-request');
    const body = referralFor(newNhsNumber(), unique('RMP-REPLAY'));
    const first = await post(a, body, { 'x-request-id': requestId });
    expect(first.status).toBe(200);
    expect(outcomesOf(first.text).some((e) => e.status.startsWith('201'))).toBe(true);

    const repeat = await post(b, body, { 'x-request-id': requestId });
    expect(repeat.status).toBe(200);
    // Word for word, 201s included: the first answer, not a second intake's.
    expect(repeat.text).toBe(first.text);
    expect(repeat.headers.get('x-request-id')).toBe(requestId);

    const other = await post(b, referralFor(newNhsNumber(), unique('RMP-OTHER')), {
      'x-request-id': requestId,
    });
    expect(other.status).toBe(409);
    expect(JSON.parse(other.text).issue[0].code).toBe('duplicate');
  }, 60_000);

  it('runs a request once when its X-Request-ID arrives at both isolates at once', async () => {
    const requestId = unique('shared-concurrent');
    const body = referralFor(newNhsNumber(), unique('RMP-CONCURRENT'));
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => post(i % 2 === 0 ? a : b, body, { 'x-request-id': requestId })),
    );
    expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 10 }, () => 200));
    // Every answer is the one that created the referral: no second intake ran.
    expect(new Set(answers.map((r) => r.text)).size).toBe(1);
    expect(outcomesOf(answers[0]?.text ?? '').some((e) => e.status.startsWith('201'))).toBe(true);
  }, 60_000);
});
