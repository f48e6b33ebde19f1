import type { Bundle } from '@medplum/fhirtypes';
import type { IntakeResult } from '../referrals/intake.ts';
import { type ReturnPreference, toTransactionResponse } from '../referrals/responses.ts';

/** An answer as status, headers and body, whether sent now or kept for an async job. */
export interface Answer<T> {
  status: 200 | 201;
  headers: Record<string, string>;
  body: T;
}

/** The answer to `POST /fhir` with a referral: its transaction-response. */
export function transactionAnswer(
  result: IntakeResult,
  prefer: ReturnPreference,
  baseUrl: string,
): Answer<Bundle> {
  return { status: 200, headers: {}, body: toTransactionResponse(result, prefer, `${baseUrl}/fhir`) };
}

/** The answer to `POST /referrals`: what became of the referral, with links to read it. */
export function jsonReferralAnswer(result: IntakeResult, baseUrl: string): Answer<object> {
  const fhirBase = `${baseUrl}/fhir`;
  const link = (r: { resourceType: string; id?: string }) => ({
    id: r.id,
    location: `${fhirBase}/${r.resourceType}/${r.id}`,
  });
  const patient = result.entries.find((e) => e.resource.resourceType === 'Patient')?.resource;
  return {
    status: result.kind === 'created' ? 201 : 200,
    headers: { Location: `${fhirBase}/ServiceRequest/${result.serviceRequest.id}` },
    body: {
      status: result.kind,
      serviceRequest: link(result.serviceRequest),
      task: link(result.task),
      ...(patient ? { patient: link(patient) } : {}),
    },
  };
}
