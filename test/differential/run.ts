import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import type { FakeMedplum } from '../support/medplum-handlers.ts';
import { requestFor, type Step, stepArbitrary } from './requests.ts';
import { commonBase, OBSERVER, othersAct, type Role } from './scenario.ts';
import { type Answer, createWorld, Normaliser, type Request, type StoreKind, type World } from './world.ts';

/**
 * Two worlds that differ only in what other organisations did: the quiet one where they did
 * nothing, the busy one where they referred the same people, planned, measured and audited.
 */
export interface WorldPair {
  role: Role;
  quiet: World;
  busy: World;
  normalisers: [Normaliser, Normaliser];
  /** Requests sent by the observer to each world, differences found, answers by status. */
  stats: { requests: number; differences: number; statuses: Map<number, number> };
}

/**
 * Builds the pair: the same base in both, the others' first round in the busy one only. On the
 * fake, each world has a Medplum of its own (`fakeFor` makes it and has its handlers served).
 */
export async function worldPair(
  role: Role,
  kind: StoreKind,
  fakeFor?: (name: string) => FakeMedplum,
): Promise<WorldPair> {
  const quiet = await createWorld('quiet', kind, kind === 'fake' ? fakeFor?.(`${role}-quiet`) : undefined);
  const busy = await createWorld('busy', kind, kind === 'fake' ? fakeFor?.(`${role}-busy`) : undefined);
  for (const world of [quiet, busy]) await commonBase(world, role);
  await othersAct(busy, role, 0);
  return {
    role,
    quiet,
    busy,
    normalisers: [new Normaliser(), new Normaliser()],
    stats: { requests: 0, differences: 0, statuses: new Map() },
  };
}

/** A difference between the two worlds' answers to one request, for the failure message. */
export class Difference extends Error {
  readonly quiet: Answer;
  readonly busy: Answer;

  constructor(request: { quiet: Request; busy: Request }, quiet: Answer, busy: Answer) {
    super(
      `The answer depends on what other organisations did.\n${describe(request.busy)}\nquiet: ${JSON.stringify(quiet).slice(0, 3000)}\nbusy:  ${JSON.stringify(busy).slice(0, 3000)}`,
    );
    this.quiet = quiet;
    this.busy = busy;
  }
}

const describe = (request: Request) => `${request.method ?? 'GET'} ${request.path}`;

/** Sends one request as the observer to both worlds and throws when the answers differ. */
export async function same(pair: WorldPair, request: (world: World) => Request): Promise<Answer> {
  const observer = OBSERVER[pair.role];
  const asked = { quiet: request(pair.quiet), busy: request(pair.busy) };
  const quiet = pair.normalisers[0].normalise(await pair.quiet.send(observer, asked.quiet));
  const busy = pair.normalisers[1].normalise(await pair.busy.send(observer, asked.busy));
  pair.stats.requests += 1;
  pair.stats.statuses.set(quiet.status, (pair.stats.statuses.get(quiet.status) ?? 0) + 1);
  if (!isDeepStrictEqual(quiet, busy)) {
    pair.stats.differences += 1;
    throw new Difference(asked, quiet, busy);
  }
  return quiet;
}

/** Runs one generated sequence of the observer's steps against both worlds. */
export async function runSteps(pair: WorldPair, steps: readonly Step[]): Promise<void> {
  const observer = OBSERVER[pair.role];
  for (const step of steps) await same(pair, (world) => requestFor(world, pair.role, observer, step));
}

/**
 * Runs `sequences` generated sequences (fast-check, from `seed`) against the pair, the others
 * taking their second round halfway; resolves with the statistics, rejects on the first difference.
 */
export async function runGenerated(
  pair: WorldPair,
  options: { sequences: number; seed: number; maxSteps?: number },
): Promise<WorldPair['stats']> {
  const half = Math.floor(options.sequences / 2);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(stepArbitrary(pair.role), { minLength: 1, maxLength: options.maxSteps ?? 6 }),
      async (steps) => {
        if (run++ === half) await othersAct(pair.busy, pair.role, 1);
        await runSteps(pair, steps);
      },
    ),
    { numRuns: options.sequences, seed: options.seed, endOnFailure: true },
  );
  return pair.stats;
}
