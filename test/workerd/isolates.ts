import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import type { Bundle } from '@medplum/fhirtypes';
import type { Hono } from 'hono';
import keys from '../../examples/auth/test-client-keys.json';
import gpSendsReferral from '../../examples/journey/01-gp-sends-referral.200.request.json';
import { clientAssertion, tokenForm } from '../../scripts/smart-client.ts';
import { buildWorkerApp, type WorkerEnv } from '../../src/edge/worker-app.ts';
import type { AppEnv } from '../../src/http/env.ts';

export const FACADE = 'https://facade.test';
export const TOKEN_URL = `${FACADE}/oauth2/token`;

/**
 * Two apps built from the Worker's bindings as two isolates build theirs: each with its own
 * memory (Medplum client, rate limits, in-process anything), sharing only the Durable Object
 * namespaces and the store.
 */
export async function twoIsolates(): Promise<[Hono<AppEnv>, Hono<AppEnv>]> {
  return [await buildWorkerApp(env as WorkerEnv), await buildWorkerApp(env as WorkerEnv)];
}

/** One request to one app, waiting for what it left running (its audit write) before answering. */
export async function call(
  app: Hono<AppEnv>,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const ctx = createExecutionContext();
  const response = await app.fetch(
    new Request(`${FACADE}${path}`, { method: init.method ?? (init.body ? 'POST' : 'GET'), ...init }),
    env,
    ctx,
  );
  const text = await response.text();
  await waitOnExecutionContext(ctx);
  return { status: response.status, headers: response.headers, text };
}

/** A signed client assertion of a test client of examples/auth, for this facade's token endpoint. */
export function assertionFor(clientId: string): Promise<string> {
  const key = keys.keys.find((k) => k.clientId === clientId);
  if (!key) throw new Error(`no test key for ${clientId}`);
  return clientAssertion(key, TOKEN_URL);
}

/** Exchanges an assertion at one app's token endpoint. */
export function exchange(app: Hono<AppEnv>, assertion: string, scope: string) {
  return call(app, '/oauth2/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: tokenForm(assertion, scope),
  });
}

/** An access token from one app (tokens verify on every app: they share the signing key). */
export async function tokenFrom(app: Hono<AppEnv>, clientId: string, scope: string): Promise<string> {
  const answer = await exchange(app, await assertionFor(clientId), scope);
  const token = (JSON.parse(answer.text) as { access_token?: string }).access_token;
  if (!token) throw new Error(`token refused (${answer.status})`);
  return token;
}

/** A valid NHS number (Modulus 11) in the test range no one else uses in this run. */
export function newNhsNumber(): string {
  for (;;) {
    const digits = `999${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
    const sum = [...digits].reduce((total, digit, i) => total + Number(digit) * (10 - i), 0);
    const check = 11 - (sum % 11);
    if (check !== 10) return digits + (check === 11 ? '0' : String(check));
  }
}

/** examples/journey/01 (the GP's referral) for this person, under this referral identifier. */
export function referralFor(nhsNumber: string, referralId: string): string {
  return JSON.stringify(gpSendsReferral.body)
    .replaceAll('9990000042', nhsNumber)
    .replaceAll('RMP-2026-000142', referralId);
}

/** The sender's referral identifier system in examples/journey/01. */
export const REFERRAL_SYSTEM = 'https://fhir.riverside-medical.example/referrals';

/** The `Type/id` locations of a transaction response, with their statuses. */
export function outcomesOf(text: string): { location: string; status: string }[] {
  return ((JSON.parse(text) as Bundle).entry ?? []).map((e) => ({
    location: (e.response?.location ?? '').split('/_history')[0] as string,
    status: e.response?.status ?? '',
  }));
}

/** How many resources a search through one app finds. */
export async function countOf(app: Hono<AppEnv>, token: string, query: string): Promise<number> {
  const answer = await call(app, `/fhir/${query}`, { headers: { authorization: `Bearer ${token}` } });
  if (answer.status !== 200) throw new Error(`search ${query} answered ${answer.status}`);
  return (JSON.parse(answer.text) as Bundle).entry?.filter((e) => e.search?.mode !== 'include').length ?? 0;
}
