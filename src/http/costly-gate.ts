import { FhirError } from '../fhir/outcomes.ts';

/**
 * JSON values above which a body counts as costly: checking one holds the event loop for tens of
 * milliseconds (src/fhir/shape.ts bounds how many). The largest published referral Bundle holds
 * about 700, so no sender's ordinary request is held back.
 */
export const COSTLY_ELEMENTS = 1_000;

/** A body that is not a resource (an Open Referral feed to import) is costly past this size. */
export const COSTLY_BYTES = 64 * 1024;

/** Costly requests that may wait for their turn; one more is refused as busy. */
export const MAX_WAITING = 16;

/**
 * A fresh turn of the event loop, after whatever else was waiting for I/O. On Node a timer alone
 * may fire before the loop next polls for I/O, and an immediate alone may run before it too; an
 * immediate set from a timer runs after a poll. Elsewhere a timer is all there is.
 */
export const nextTurn = (): Promise<void> =>
  new Promise((resolve) => {
    const { setImmediate } = globalThis as { setImmediate?: (callback: () => void) => unknown };
    setTimeout(() => (setImmediate ? setImmediate(resolve) : resolve()), 0);
  });

/**
 * Lets costly requests through one at a time, in the order they came, each starting on a fresh
 * turn of the event loop. Checking a costly body cannot yield part-way (the validator is
 * synchronous), so costly requests run one after another rather than side by side: a cheap
 * request then waits for at most one costly step, not for one per costly request in flight.
 * Costly requests past MAX_WAITING are refused with 503 and Retry-After. One per process on
 * Node, one per isolate on Workers.
 */
export class CostlyGate {
  #busy = false;
  readonly #waiting: (() => void)[] = [];
  readonly #maxWaiting: number;

  constructor(maxWaiting = MAX_WAITING) {
    this.#maxWaiting = maxWaiting;
  }

  /** How many costly requests wait now (not counting the one running). */
  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#busy) {
      if (this.#waiting.length >= this.#maxWaiting) throw busy();
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#busy = true;
    }
    try {
      await nextTurn();
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#busy = false;
    }
  }
}

const busy = (): FhirError =>
  new FhirError(
    'unavailable',
    [{ code: 'transient', diagnostics: 'The service is busy with other large requests; send it again' }],
    { 'Retry-After': '1' },
  );
