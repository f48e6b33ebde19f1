/**
 * Jobs of the FHIR asynchronous request pattern (https://hl7.org/fhir/R4/async.html): a request
 * accepted with 202 is worked through the outbox, and its answer is kept here for the client to
 * fetch at its status location.
 */

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
  /** What makes two requests the same work (for a referral: organisation and identifier). */
  key: string;
  answer?: AsyncJobAnswer;
}

/** Where jobs are kept. */
export interface AsyncJobs {
  /**
   * The owner's pending job under this key if there is one (`created` false), otherwise a new
   * job with this id (`created` true), in one step so that two equal requests share a job.
   */
  open(owner: string, key: string, id: string): { id: string; created: boolean };
  get(id: string): AsyncJob | undefined;
  /** Stores the answer; the job is no longer pending. */
  complete(id: string, answer: AsyncJobAnswer): void;
  /** Forgets a job (one whose message could not be queued). */
  remove(id: string): void;
}
