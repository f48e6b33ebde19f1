/**
 * Jobs of the FHIR asynchronous request pattern (https://hl7.org/fhir/R4/async.html): a request
 * accepted with 202 is worked through the outbox, and its answer is kept here for the client to
 * fetch at its status location.
 *
 * Two implementations: a SQLite table beside the outbox (Node, `sqlite-async-jobs.ts`) and
 * Durable Objects (Workers, `src/edge/async-job-shard.ts`).
 */

/** How long a job's answer is kept once it has one; after that the job is forgotten. */
export const ASYNC_JOB_TTL_MS = 24 * 60 * 60_000;

/**
 * How long a job may wait for its work. Far beyond the outbox's attempts (one to two hours), so it
 * is reached only when the job's message was lost or its dead-letter answer could not be kept:
 * the job has lapsed, its message is not worked any more, and it is forgotten ASYNC_JOB_TTL_MS
 * later. No job is pending for ever.
 */
export const ASYNC_JOB_PENDING_LIMIT_MS = 24 * 60 * 60_000;

/** The answer a job's request would have had, as stored: status, headers that matter, body. */
export interface AsyncJobAnswer {
  status: number;
  headers: Record<string, string>;
  /** `fhir` for a FHIR resource (sent in the negotiated FHIR media type), `json` for plain JSON. */
  format: 'fhir' | 'json';
  body: unknown;
}

/** One job: whose it is, and its answer once it has one. */
export interface AsyncJob {
  id: string;
  /** The client that sent the request: the only one that may read the job. */
  owner: string;
  answer?: AsyncJobAnswer;
  /** Pending past ASYNC_JOB_PENDING_LIMIT_MS: it will not be worked, and has no answer. */
  lapsed?: true;
}

/** Where jobs are kept. Every method may reject when the store cannot be reached. */
export interface AsyncJobs {
  /**
   * The owner's pending job under this key if there is one (`created` false), otherwise a new
   * job (`created` true), in one step so that two equal requests share a job. `key` says what
   * makes two requests the same work (for a referral: organisation, identifier and content).
   * The new job's id is `id`, or one made from it (a store may mark where the job is kept).
   * `orderKey` groups jobs whose work must be done in the order they were opened (a referral's
   * organisation and identifier): see `turn`.
   */
  open(owner: string, key: string, id: string, orderKey?: string): Promise<{ id: string; created: boolean }>;
  /**
   * Whether the job's work may be done now: `wait` while a job opened before it under its order
   * key is still pending (neither answered, nor removed, nor lapsed). A store whose queue already
   * delivers work in order (the SQLite outbox on Node) need not say; its jobs always `go`.
   */
  turn?(id: string): Promise<'go' | 'wait'>;
  /** The job, unless it is unknown or forgotten. */
  get(id: string): Promise<AsyncJob | undefined>;
  /** Stores the answer unless the job has one already (the first answer stands). */
  complete(id: string, answer: AsyncJobAnswer): Promise<void>;
  /** Forgets a job (one whose message could not be queued). */
  remove(id: string): Promise<void>;
}

/** When a stored job is forgotten: its answer's time to live, or its pending limit and then that. */
export function expiryOf(job: { openedAt: number; completedAt?: number | null }): number {
  return job.completedAt == null
    ? job.openedAt + ASYNC_JOB_PENDING_LIMIT_MS + ASYNC_JOB_TTL_MS
    : job.completedAt + ASYNC_JOB_TTL_MS;
}

/** Whether a pending job opened at `openedAt` has lapsed at `now`. */
export function hasLapsed(openedAt: number, now: number): boolean {
  return now - openedAt >= ASYNC_JOB_PENDING_LIMIT_MS;
}
