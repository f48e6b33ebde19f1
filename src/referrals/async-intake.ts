import { authorize, type Principal, type RequestContext } from '../auth/principal.ts';
import { formatScope, parseScopes } from '../auth/scopes.ts';
import { FhirError } from '../fhir/outcomes.ts';
import type { AsyncJobs } from '../outbox/async-jobs.ts';
import type { Outbox } from '../outbox/outbox.ts';
import { fingerprintReferral } from './fingerprint.ts';
import { checkReferralBundle, type IntakeDeps, referralIdentifier } from './intake.ts';
import type { ReturnPreference } from './responses.ts';
import { checkJsonReferral } from './submit-variants.ts';

/** The outbox message kind of a referral accepted with `Prefer: respond-async`. */
export const ASYNC_INTAKE_KIND = 'referral-intake';

/** Which intake a queued referral goes to: the transaction Bundle's, or the plain JSON one's. */
export type IntakeForm = 'bundle' | 'json';

/** What is queued for a referral accepted asynchronously: enough to run the intake as the caller. */
export interface AsyncIntakeMessage {
  jobId: string;
  form: IntakeForm;
  body: unknown;
  prefer: ReturnPreference;
  /** The public base URL the answer's links are built on. */
  baseUrl: string;
  requestId: string;
  principal: { clientId: string; organization: string | null; scopes: string[] };
}

/** Where async jobs are kept and how their work is queued. */
export interface AsyncIntakeDeps {
  jobs: AsyncJobs;
  outbox: Outbox;
}

/**
 * Accepts a referral for later: checks it now as the synchronous intake would before looking
 * anything up (so bad input is refused at once and nothing is queued), then opens a job keyed by
 * the caller's organisation, the referral identifier and its content, and queues the intake. The
 * same referral sent again while its job is pending gets that job, and is queued again. Identity look-ups wait for the
 * intake.
 */
export async function acceptReferralLater(
  deps: AsyncIntakeDeps & Pick<IntakeDeps, 'clock' | 'newId'>,
  request: Omit<AsyncIntakeMessage, 'jobId' | 'principal' | 'requestId'>,
  ctx: RequestContext,
): Promise<string> {
  authorize(ctx.principal, 'ServiceRequest', 'c');
  const referral =
    request.form === 'json'
      ? await checkJsonReferral(deps, request.body, ctx)
      : checkReferralBundle(request.body, deps.clock());
  const { clientId, organization, scopes } = ctx.principal;
  // Its content too: another referral under the same identifier is its own job (and a 409).
  const key = `${organization ?? ''}|${referralIdentifier(referral)}|${await fingerprintReferral(referral)}`;
  // Referrals under one identifier from one organisation are written in the order accepted.
  const order = { ref: ctx.requestId, orderKey: `${organization ?? ''}|${referralIdentifier(referral)}` };
  const job = await deps.jobs.open(clientId, key, deps.newId(), order.orderKey);
  const message: AsyncIntakeMessage = {
    ...request,
    jobId: job.id,
    requestId: ctx.requestId,
    principal: { clientId, organization: organization ?? null, scopes: scopes.map(formatScope) },
  };
  if (!job.created) {
    // Queued again: the first message may never have been (its sender died between the job and
    // the queue). Working it twice writes once, and the job keeps the first answer.
    await deps.outbox.enqueue(ASYNC_INTAKE_KIND, message, order);
    return job.id;
  }
  try {
    await deps.outbox.enqueue(ASYNC_INTAKE_KIND, message, order);
  } catch (err) {
    // Not queued, so never worked: a job left pending would be waited on until it lapses. Should
    // that fail too, it does lapse (ASYNC_JOB_PENDING_LIMIT_MS); the caller hears of the first failure.
    await deps.jobs.remove(job.id).catch(lapses);
    throw err;
  }
  return job.id;
}

/**
 * A queued referral whose turn has not come: one accepted before it under its identifier is still
 * to be written. Thrown by its handler, so that the outbox tries it again later.
 */
export class EarlierReferralPending extends Error {
  constructor() {
    super('A referral accepted earlier under this identifier is still to be written');
    this.name = 'EarlierReferralPending';
  }
}

/** A job that cannot be removed needs no handling: it lapses, unworked, on its own. */
const lapses = (): void => {};

/** The caller of a queued referral, as it was when the referral was accepted. */
export function principalOf(message: AsyncIntakeMessage): Principal {
  const { clientId, organization, scopes } = message.principal;
  return {
    clientId,
    organization: organization ?? undefined,
    scopes: parseScopes(scopes.join(' ')).scopes,
  };
}

/**
 * What a queued referral that was never written answers: its message used up its attempts (the
 * store was down throughout), or its job lapsed. Nothing was written, and the same referral may be
 * sent again (intake is idempotent, so that is safe even had part of it been written).
 */
export function referralNotWritten(): FhirError {
  return new FhirError('unavailable', [
    {
      code: 'transient',
      diagnostics: 'The referral could not be written; it may be sent again',
    },
  ]);
}
