import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createFuzzTarget, fuzzRequests } from '../../scripts/fuzz/harness.ts';

// A short run on every `npm test`; `npm run fuzz` runs the same properties for longer.
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

describe('any request made from the examples', () => {
  it(`gets no 5xx, an OperationOutcome for every error, and stores nothing when refused (${RUNS} runs)`, async () => {
    const target = await createFuzzTarget();
    await fc.assert(
      fc.asyncProperty(fuzzRequests(target.bases), async (request) => {
        const { problems } = await target.send(request);
        expect(problems).toEqual([]);
      }),
      { numRuns: RUNS, seed: 20261201, endOnFailure: true },
    );
  }, 120_000);
});
