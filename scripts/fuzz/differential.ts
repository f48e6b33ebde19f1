/**
 * `npm run fuzz:differential`: the long run of the differential (non-interference) suite. For each
 * observed organisation (a sending practice, the receiving service, its auditor, a directory
 * client, a member of people's care teams) two embedded stores are built that differ only in what other organisations did, and
 * generated sequences of the observer's requests are sent to both; every answer must be equal once
 * ids and times are normalised. DIFFERENTIAL_SEQUENCES (default 1,000, shared among the roles),
 * DIFFERENTIAL_SEED. Exits 1 on the first difference, printing both answers.
 */
import { runGenerated, worldPair } from '../../test/differential/run.ts';
import type { Role } from '../../test/differential/scenario.ts';

const total = Number(process.env.DIFFERENTIAL_SEQUENCES ?? 1_000);
const seed = Number(process.env.DIFFERENTIAL_SEED ?? Date.now() % 2 ** 31);
const roles: Role[] = ['gp', 'sp', 'auditor', 'directory', 'team'];
const started = performance.now();
const statuses = new Map<number, number>();
let requests = 0;
let differences = 0;
try {
  for (const [i, role] of roles.entries()) {
    const sequences = Math.ceil(total / roles.length);
    const pair = await worldPair(role, 'embedded');
    const stats = await runGenerated(pair, { sequences, seed: seed + i, maxSteps: 8 });
    requests += stats.requests;
    differences += stats.differences;
    for (const [status, n] of stats.statuses) statuses.set(status, (statuses.get(status) ?? 0) + n);
    console.log(
      `${role}: ${sequences} sequences, ${stats.requests} requests, ${stats.differences} differences`,
    );
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  // fast-check keeps the difference (both answers) as the cause.
  if (err instanceof Error && err.cause) console.error(String(err.cause));
  process.exitCode = 1;
}
console.log(
  `differential: ${requests} requests to each of two stores, seed ${seed}, ${((performance.now() - started) / 1000).toFixed(0)} s; differences: ${differences}${process.exitCode ? ' (stopped at the first)' : ''}`,
);
console.log(
  `statuses: ${[...statuses]
    .sort(([a], [b]) => a - b)
    .map(([s, n]) => `${s}×${n}`)
    .join(' ')}`,
);
