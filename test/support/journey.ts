import type { Bundle } from '@medplum/fhirtypes';
import { exampleBody } from './referrals.ts';
import { GP, type SecuredApp, SP, securedApp } from './secured.ts';

export interface Referred {
  s: SecuredApp;
  gp: string;
  sp: string;
  srId: string;
  patientId: string;
}

/** A secured app where the GP has sent the example referral; tokens for the GP and the service. */
export async function referred(options: Parameters<typeof securedApp>[1] = {}): Promise<Referred> {
  const s = await securedApp({}, options);
  const gp = await s.token(GP, 'system/ServiceRequest.crs system/Task.u system/*.rs');
  const sp = await s.token(
    SP,
    'system/*.rs system/Task.rus system/CarePlan.cruds system/QuestionnaireResponse.c',
  );
  const sent = (await (
    await s.as(gp, '/fhir', { body: exampleBody('01-gp-transaction-bundle.200') })
  ).json()) as Bundle;
  const location = (type: string) =>
    sent.entry
      ?.map((e) => e.response?.location ?? '')
      .find((l) => l.startsWith(`${type}/`))
      ?.split('/')[1] as string;
  return { s, gp, sp, srId: location('ServiceRequest'), patientId: location('Patient') };
}

/** Calls a plain-JSON endpoint. */
export function postJson(r: Referred, token: string, path: string, body: unknown = {}) {
  return r.s.as(token, path, { body, headers: { 'content-type': 'application/json' } });
}
