import { describe, expect, it } from 'vitest';
import { createInMemoryJtiLedger } from '../../src/auth/tokens.ts';

const START = Date.parse('2026-07-14T10:00:00Z');

/** A ledger on a clock the test moves. */
function ledgerAt(maxPerClient?: number) {
  let now = START;
  const ledger = createInMemoryJtiLedger(() => new Date(now), maxPerClient);
  return {
    claim: (clientId: string, jti: string, expiresInMs = 300_000) =>
      ledger.claim(clientId, jti, now + expiresInMs),
    at: (msAfterStart: number) => {
      now = START + msAfterStart;
    },
  };
}

describe('createInMemoryJtiLedger', () => {
  it('accepts a jti once until it expires, and again after', () => {
    const ledger = ledgerAt();
    expect(ledger.claim('gp', 'j1', 60_000)).toBe(true);
    expect(ledger.claim('gp', 'j1', 60_000)).toBe(false);
    ledger.at(59_999);
    expect(ledger.claim('gp', 'j1', 60_000)).toBe(false);
    ledger.at(60_001);
    expect(ledger.claim('gp', 'j1', 60_000)).toBe(true);
    expect(ledger.claim('gp', 'j1', 60_000)).toBe(false);
  });

  it('keeps the first expiry when a repeat is refused', () => {
    const ledger = ledgerAt();
    expect(ledger.claim('gp', 'j1', 1_000)).toBe(true);
    // A refused repeat asking for a later expiry does not extend the first one.
    expect(ledger.claim('gp', 'j1', 600_000)).toBe(false);
    ledger.at(1_001);
    expect(ledger.claim('gp', 'j1', 1_000)).toBe(true);
  });

  it('keeps clients apart: the same jti from another client is accepted', () => {
    const ledger = ledgerAt();
    expect(ledger.claim('gp', 'j1')).toBe(true);
    expect(ledger.claim('community-centre', 'j1')).toBe(true);
    expect(ledger.claim('community-centre', 'j1')).toBe(false);
  });

  it('refuses a client at its bound while still accepting another client', () => {
    const ledger = ledgerAt(3);
    for (const jti of ['j1', 'j2', 'j3']) expect(ledger.claim('flooding', jti)).toBe(true);
    expect(ledger.claim('flooding', 'j4')).toBe(false);
    expect(ledger.claim('flooding', 'j5')).toBe(false);
    for (const jti of ['j1', 'j2', 'j3']) expect(ledger.claim('quiet', jti)).toBe(true);
    expect(ledger.claim('quiet', 'j4')).toBe(false);
    expect(ledger.claim('third', 'j1')).toBe(true);
    // A repeat at the bound is still a repeat.
    expect(ledger.claim('flooding', 'j1')).toBe(false);
  });

  it('lets expired entries free room under the bound', () => {
    const ledger = ledgerAt(3);
    expect(ledger.claim('gp', 'j1', 1_000)).toBe(true);
    expect(ledger.claim('gp', 'j2', 2_000)).toBe(true);
    expect(ledger.claim('gp', 'j3', 300_000)).toBe(true);
    expect(ledger.claim('gp', 'j4')).toBe(false);

    ledger.at(1_500);
    expect(ledger.claim('gp', 'j4')).toBe(true);
    expect(ledger.claim('gp', 'j5')).toBe(false);

    ledger.at(2_500);
    expect(ledger.claim('gp', 'j5')).toBe(true);
    expect(ledger.claim('gp', 'j6')).toBe(false);
    // The survivors are still refused as repeats.
    expect(ledger.claim('gp', 'j3')).toBe(false);
    expect(ledger.claim('gp', 'j4')).toBe(false);
  });

  it('bounds each client at 10,000 live assertions by default', () => {
    const ledger = ledgerAt();
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) if (ledger.claim('gp', `j${i}`)) accepted += 1;
    expect(accepted).toBe(10_000);
    expect(ledger.claim('gp', 'one-more')).toBe(false);
    expect(ledger.claim('other', 'one-more')).toBe(true);
  });
});
