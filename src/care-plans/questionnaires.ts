import type { Bundle } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { searchPublished } from '../resources/contract.ts';
import { QUESTIONNAIRES } from './outcomes.ts';

/**
 * `GET /fhir/Questionnaire?url=...`: the outcome measures' Questionnaires, which are published
 * definitions and not stored, searched by canonical URL as the rest of the contract is.
 */
export function searchQuestionnaires(
  ctx: RequestContext,
  params: URLSearchParams,
  baseUrl: string,
  handling: { lenient?: boolean } = {},
): Promise<Bundle> {
  authorize(ctx.principal, 'Questionnaire', 's');
  return searchPublished('Questionnaire', QUESTIONNAIRES, params, baseUrl, handling);
}
