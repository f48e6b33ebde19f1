import type { Bundle } from '@medplum/fhirtypes';
import type { EmbeddedMedplum } from '../../src/medplum/embedded/server.ts';

/** The ways a call to Medplum goes wrong, as seen from the facade. */
export type FaultKind = 'reset' | 'late' | 'fail-after-apply' | 'partial';
export const FAULT_KINDS: readonly FaultKind[] = ['reset', 'late', 'fail-after-apply', 'partial'];

export interface FaultyTransport {
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** How many of each fault were injected. */
  injected: Record<FaultKind, number>;
  /** Calls still being applied after their caller gave up on them. */
  settle(): Promise<void>;
  /** Stops injecting (for the checks at the end). */
  heal(): void;
}

/** A small seeded generator, so a failing run can be repeated. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The embedded Medplum behind a transport that fails `rate` of the FHIR calls, spread evenly over
 * the kinds: a reset before anything is applied; an answer that never comes (applied, but after
 * the caller's timeout); a 500 after the call was applied; and a transaction of which only the
 * first half is applied (as a project without transactional bundles would) before a 503.
 */
export function faultyTransport(
  medplum: EmbeddedMedplum,
  rate: number,
  random: () => number,
): FaultyTransport {
  const pending: Promise<unknown>[] = [];
  const injected: Record<FaultKind, number> = { reset: 0, late: 0, 'fail-after-apply': 0, partial: 0 };
  let healthy = false;
  return {
    injected,
    heal: () => {
      healthy = true;
    },
    settle: async () => {
      while (pending.length) await Promise.allSettled(pending.splice(0));
    },
    async fetch(input, init) {
      const request = new Request(input, init);
      const roll = random();
      if (healthy || !new URL(request.url).pathname.includes('/fhir/R4') || roll >= rate) {
        return medplum.fetch(request);
      }
      const kind = FAULT_KINDS[Math.floor((roll / rate) * FAULT_KINDS.length)] as FaultKind;
      injected[kind]++;
      if (kind === 'reset') throw new TypeError('fetch failed');
      if (kind === 'late') {
        const applied = medplum.fetch(request);
        pending.push(applied);
        return new Promise<Response>((_, reject) => {
          const signal = init?.signal;
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      }
      if (kind === 'fail-after-apply') {
        await medplum.fetch(request);
        return new Response(null, { status: 500 });
      }
      const text = request.method === 'POST' ? await request.clone().text() : '';
      const bundle = text ? (JSON.parse(text) as Bundle) : undefined;
      if (bundle?.resourceType === 'Bundle' && (bundle.entry?.length ?? 0) > 1) {
        const half = { ...bundle, entry: bundle.entry?.slice(0, Math.ceil((bundle.entry?.length ?? 0) / 2)) };
        await medplum.fetch(
          new Request(request.url, { method: 'POST', headers: request.headers, body: JSON.stringify(half) }),
        );
      }
      return new Response(null, { status: 503 });
    },
  };
}
