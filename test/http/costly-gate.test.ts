import type { Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { FhirError } from '../../src/fhir/outcomes.ts';
import { measureBudget } from '../../src/fhir/shape.ts';
import { COSTLY_ELEMENTS, CostlyGate, MAX_WAITING, nextTurn } from '../../src/http/costly-gate.ts';
import { call } from '../support/app.ts';
import { seededApp } from '../support/referrals.ts';

/** Holds the thread as a costly check does: no other callback runs meanwhile. */
const busyFor = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
};

describe('CostlyGate', () => {
  it('runs costly work one at a time, in the order it came', async () => {
    const gate = new CostlyGate();
    const events: string[] = [];
    const work = (name: string) => async () => {
      events.push(`${name} starts`);
      await nextTurn();
      events.push(`${name} ends`);
      return name;
    };
    const results = await Promise.all([gate.run(work('a')), gate.run(work('b')), gate.run(work('c'))]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(events).toEqual(['a starts', 'a ends', 'b starts', 'b ends', 'c starts', 'c ends']);
    // Without the gate the same work interleaves.
    events.length = 0;
    await Promise.all([work('a')(), work('b')()]);
    expect(events).toEqual(['a starts', 'b starts', 'a ends', 'b ends']);
  });

  it('lets a request that came meanwhile go between two costly ones', async () => {
    const gate = new CostlyGate();
    const events: string[] = [];
    // The first costly one holds the thread; a cheap request arrives meanwhile.
    const costly = (name: string) => async () => {
      if (name === 'first costly') setTimeout(() => events.push('cheap'), 0);
      busyFor(20);
      events.push(name);
    };
    await Promise.all([gate.run(costly('first costly')), gate.run(costly('second costly'))]);
    await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(['first costly', 'cheap', 'second costly']);
    // Side by side, without the gate, the cheap one waits for both.
    events.length = 0;
    await Promise.all([costly('first costly')(), costly('second costly')()]);
    await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(['first costly', 'second costly', 'cheap']);
  });

  it('refuses one more than MAX_WAITING with 503 and Retry-After; the others all run', async () => {
    const gate = new CostlyGate();
    const runs = Array.from({ length: MAX_WAITING + 2 }, (_, i) =>
      gate
        .run(async () => i)
        .then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        ),
    );
    expect(gate.waiting).toBe(MAX_WAITING);
    const settled = await Promise.all(runs);
    expect(settled.slice(0, MAX_WAITING + 1)).toEqual(
      Array.from({ length: MAX_WAITING + 1 }, (_, i) => ({ value: i })),
    );
    const refused = (settled.at(-1) as { error: FhirError }).error;
    expect(refused).toBeInstanceOf(FhirError);
    expect(refused.kind).toBe('unavailable');
    expect(refused.headers['Retry-After']).toBe('1');
    // Once they are through, the gate takes work again.
    expect(await gate.run(async () => 'again')).toBe('again');
    expect(gate.waiting).toBe(0);
  });

  it('passes a failure on and still lets the next one through', async () => {
    const gate = new CostlyGate();
    const failing = gate.run(async () => {
      throw new Error('boom');
    });
    const next = gate.run(async () => 'next');
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('next');
  });
});

describe('costly bodies through the app', () => {
  const patient = (names: number): Patient => ({
    resourceType: 'Patient',
    name: Array.from({ length: names }, () => ({ family: 'Example', given: ['A', 'B'] })),
  });
  const elementsOf = (names: number) => measureBudget(patient(names)).elements;

  it('go through the gate: many at once are answered 503 with Retry-After past the queue, cheap ones never', async () => {
    const { app } = await seededApp();
    expect(elementsOf(300)).toBeGreaterThan(COSTLY_ELEMENTS);
    expect(elementsOf(100)).toBeLessThan(COSTLY_ELEMENTS);
    const burst = (names: number) =>
      Promise.all(
        Array.from({ length: MAX_WAITING + 4 }, () =>
          call(app, '/fhir/Patient/$validate', { body: patient(names) }),
        ),
      );
    const costly = await burst(300);
    const statuses = costly.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(MAX_WAITING + 1);
    expect(statuses.filter((s) => s === 503)).toHaveLength(3);
    const refused = costly.find((r) => r.status === 503) as Response;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await refused.json()).issue[0].code).toBe('transient');
    const cheap = await burst(100);
    expect(cheap.map((r) => r.status)).toEqual(cheap.map(() => 200));
  });
});
