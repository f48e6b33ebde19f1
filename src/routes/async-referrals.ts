import type { Resource } from '@medplum/fhirtypes';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { toAuditEvent } from '../audit/audit-event.ts';
import type { AuditSink } from '../audit/audit-sink.ts';
import type { RequestContext } from '../auth/principal.ts';
import { FhirError, operationOutcome } from '../fhir/outcomes.ts';
import type { AppEnv } from '../http/env.ts';
import { toErrorAnswer } from '../http/errors.ts';
import { sendFhir } from '../http/respond.ts';
import type { AsyncJobAnswer, AsyncJobs } from '../outbox/async-jobs.ts';
import type { OutboxHandlers } from '../outbox/outbox.ts';
import {
  ASYNC_INTAKE_KIND,
  type AsyncIntakeDeps,
  type AsyncIntakeMessage,
  acceptReferralLater,
  EarlierReferralPending,
  type IntakeForm,
  principalOf,
  referralNotWritten,
} from '../referrals/async-intake.ts';
import type { IntakeDeps } from '../referrals/intake.ts';
import { submitReferral } from '../referrals/intake.ts';
import { parsePrefer } from '../referrals/responses.ts';
import { submitJsonReferral } from '../referrals/submit-variants.ts';
import { isStoreOutage } from '../workflow/store-failures.ts';
import { jsonReferralAnswer, transactionAnswer } from './referral-answers.ts';

/** Seconds a client is asked to wait before looking at a pending job again. */
const RETRY_AFTER_SECONDS = '2';

/** Whether the client asked for the asynchronous pattern (https://hl7.org/fhir/R4/async.html). */
export const wantsAsync = (c: Context<AppEnv>): boolean =>
  /(^|[\s,;])respond-async($|[\s,;])/.test(c.req.header('prefer') ?? '');

/** Checks the referral, queues it, and answers 202 with the job's status location. */
export async function acceptLater(
  c: Context<AppEnv>,
  deps: AsyncIntakeDeps & IntakeDeps,
  form: IntakeForm,
): Promise<Response> {
  const id = await acceptReferralLater(
    deps,
    { form, body: c.get('body'), prefer: parsePrefer(c.req.header('prefer')), baseUrl: c.get('baseUrl') },
    c.get('ctx'),
  );
  const outcome = operationOutcome([
    {
      severity: 'information',
      code: 'informational',
      diagnostics: 'The referral was accepted for processing; its answer will be at the Content-Location',
    },
  ]);
  return sendFhir(c, outcome, {
    status: 202,
    headers: { 'Content-Location': `${c.get('baseUrl')}/fhir/_async/${id}` },
  });
}

/**
 * `GET /fhir/_async/{id}`: 202 with Retry-After while the job is pending, then the answer the
 * synchronous request would have had. Another client's job is a 404, as an unknown or expired one
 * is; a lapsed one answers that the referral was not written.
 */
export async function sendJobStatus(c: Context<AppEnv>, jobs: AsyncJobs): Promise<Response> {
  const job = await jobs.get(c.req.param('id') as string);
  if (!job || job.owner !== c.get('ctx').principal.clientId) {
    throw new FhirError('not-found', [{ code: 'not-found', diagnostics: 'No such asynchronous request' }]);
  }
  if (job.lapsed) throw referralNotWritten();
  const { answer } = job;
  if (!answer) {
    const pending = operationOutcome([
      {
        severity: 'information',
        code: 'informational',
        diagnostics: 'The referral is still being processed',
      },
    ]);
    return sendFhir(c, pending, { status: 202, headers: { 'Retry-After': RETRY_AFTER_SECONDS } });
  }
  const status = answer.status as ContentfulStatusCode;
  if (answer.format === 'json') return c.json(answer.body as object, status, answer.headers);
  return sendFhir(c, answer.body as Resource, { status, headers: answer.headers });
}

/** A failure that may pass: retried (every write is conditional, so a retry completes a part-write). */
const mayPass = (err: unknown): boolean =>
  isStoreOutage(err) ||
  (err instanceof FhirError && (err.kind === 'unavailable' || err.kind === 'incomplete-write'));

/**
 * The outbox handler of queued referrals: the synchronous intake, run as the caller, its answer
 * kept for the job. A store that fails, or a write left part-done, rejects, so the referral waits
 * for the store to recover; any other failure is the answer. Redelivered after its answer was
 * kept (or once its job has lapsed or expired), it does nothing.
 */
export function asyncIntakeHandlers(
  deps: IntakeDeps,
  jobs: AsyncJobs,
  /** Where the AuditEvent of the write itself goes (the accepting request has its own). */
  audit?: () => AuditSink | undefined,
): OutboxHandlers {
  return {
    [ASYNC_INTAKE_KIND]: async (payload) => {
      const message = payload as AsyncIntakeMessage;
      const job = await jobs.get(message.jobId);
      if (!job || job.answer || job.lapsed) return;
      // Written in the order accepted under one identifier, wherever the queue keeps no order.
      if ((await jobs.turn?.(message.jobId)) === 'wait') throw new EarlierReferralPending();
      const ctx: RequestContext = {
        requestId: message.requestId,
        principal: principalOf(message),
        touched: [],
      };
      let answer: AsyncJobAnswer;
      try {
        answer =
          message.form === 'json'
            ? {
                ...jsonReferralAnswer(await submitJsonReferral(deps, message.body, ctx), message.baseUrl),
                format: 'json',
              }
            : {
                ...transactionAnswer(
                  await submitReferral(deps, message.body, ctx),
                  message.prefer,
                  message.baseUrl,
                ),
                format: 'fhir',
              };
      } catch (err) {
        if (mayPass(err)) throw err;
        const error = toErrorAnswer(err);
        answer = { status: error.status, headers: error.headers, format: 'fhir', body: error.outcome };
      }
      // Recorded (durably, through the outbox) before the job says it is done.
      await audit?.()?.record(
        toAuditEvent({
          ctx,
          interaction: message.form === 'json' ? 'create' : 'transaction',
          ...(message.form === 'json' ? { resourceType: 'ServiceRequest' } : {}),
          status: answer.status,
          recorded: deps.clock(),
        }),
      );
      await jobs.complete(message.jobId, answer);
    },
  };
}

/**
 * What the outbox does with a queued referral once it is dead-lettered (the store was down for
 * every attempt): its job answers that the referral was not written and may be sent again, rather
 * than staying pending. A rejection is the outbox's to log; the job then lapses in the end.
 */
export function asyncIntakeDeadLetterHandlers(jobs: AsyncJobs): OutboxHandlers {
  return {
    [ASYNC_INTAKE_KIND]: async (payload) => {
      const error = toErrorAnswer(referralNotWritten());
      await jobs.complete((payload as AsyncIntakeMessage).jobId, {
        status: error.status,
        headers: error.headers,
        format: 'fhir',
        body: error.outcome,
      });
    },
  };
}
