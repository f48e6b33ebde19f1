/**
 * `npm run fuzz`: the long run of the request fuzzer (50,000 inputs unless FUZZ_RUNS says
 * otherwise). Prints how many answers of each status, every problem found (a 5xx, an error that
 * is not an OperationOutcome, a write for a refused request) and the slowest answers; exits 1 on
 * any problem or any answer slower than 2 s.
 */
import fc from 'fast-check';
import { createFuzzTarget, fuzzRequests } from './harness.ts';

const runs = Number(process.env.FUZZ_RUNS ?? 50_000);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const SLOW_MS = 2_000;

const target = await createFuzzTarget();
const requests = fuzzRequests(target.bases);
const statuses = new Map<number, number>();
const problems: { problems: string[]; method: string; path: string }[] = [];
const times: number[] = [];
let done = 0;
const started = performance.now();
for (let batch = 0; done < runs; batch++) {
  const sample = fc.sample(requests, { numRuns: Math.min(1_000, runs - done), seed: seed + batch });
  for (const request of sample) {
    const result = await target.send(request);
    statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
    times.push(result.ms);
    if (result.problems.length)
      problems.push({ problems: result.problems, method: request.method, path: request.path });
    done++;
  }
  process.stderr.write(`\r${done}/${runs}`);
}
process.stderr.write('\n');
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]?.toFixed(1);
console.log(`fuzz: ${done} requests, seed ${seed}, ${((performance.now() - started) / 1000).toFixed(0)} s`);
console.log(
  `statuses: ${[...statuses]
    .sort(([a], [b]) => a - b)
    .map(([s, n]) => `${s}×${n}`)
    .join(' ')}`,
);
console.log(`time per request: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${times.at(-1)?.toFixed(1)} ms`);
console.log(
  `5xx: ${[...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0)}; problems: ${problems.length}; over ${SLOW_MS} ms: ${times.filter((t) => t > SLOW_MS).length}`,
);
for (const p of problems.slice(0, 20)) console.log(`  ${p.method} ${p.path}: ${p.problems.join('; ')}`);
process.exit(problems.length || times.some((t) => t > SLOW_MS) ? 1 : 0);
