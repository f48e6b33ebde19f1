import { describe, expect, it } from 'vitest';
import { Failures, FhirError, type OutcomeKind } from '../../src/fhir/outcomes.ts';
import { STATUS_OF, toErrorAnswer } from '../../src/http/errors.ts';
import { StoreError, UPSTREAM_FAILURES, UpstreamError } from '../../src/medplum/errors.ts';

// A 502, 503 or 504 is never the request's fault: the store failed, is missing something, or the
// service is not ready. A sender told to come back later must be told when.

const GATEWAY = [502, 503, 504];

describe('the error mapping', () => {
  it('gives every 502, 503 and 504 a Retry-After, whatever raised it', () => {
    const raised: [string, unknown][] = [
      ...(Object.keys(STATUS_OF) as OutcomeKind[]).map((kind): [string, unknown] => [
        `outcome ${kind}`,
        new FhirError(kind, [{ code: 'exception', diagnostics: kind }]),
      ]),
      ...UPSTREAM_FAILURES.map((failure): [string, unknown] => [
        `upstream ${failure}`,
        new UpstreamError(failure, 500),
      ]),
      ...[400, 404, 409, 410, 412, 422].map((status): [string, unknown] => [
        `store refusal ${status}`,
        new StoreError(status, { resourceType: 'OperationOutcome', issue: [] }),
      ]),
      ['an incomplete write', Failures.incompleteWrite('referral')],
      ['the store not ready', Failures.notReady()],
      ['anything else', new Error('x')],
    ];
    const gateway: string[] = [];
    for (const [name, err] of raised) {
      const answer = toErrorAnswer(err);
      if (!GATEWAY.includes(answer.status)) continue;
      gateway.push(name);
      expect(answer.headers['Retry-After'], name).toMatch(/^[1-9]\d*$/);
    }
    expect(gateway).toEqual(
      expect.arrayContaining([
        'outcome incomplete-write',
        'outcome not-configured',
        'outcome unavailable',
        ...UPSTREAM_FAILURES.map((f) => `upstream ${f}`),
        'an incomplete write',
        'the store not ready',
      ]),
    );
  });

  it('keeps a Retry-After the failure set itself, and gives none to a 500 or a 4xx', () => {
    const own = new FhirError('unavailable', [{ code: 'transient', diagnostics: 'x' }], {
      'Retry-After': '60',
    });
    expect(toErrorAnswer(own).headers['Retry-After']).toBe('60');
    expect(toErrorAnswer(new Error('x')).headers['Retry-After']).toBeUndefined();
    expect(toErrorAnswer(Failures.notFound()).headers['Retry-After']).toBeUndefined();
  });

  it('answers a write the store rolled back for contention 503, never 409', () => {
    const answer = toErrorAnswer(new UpstreamError('contention', 409));
    expect(answer.status).toBe(503);
    expect(answer.outcome.issue?.[0]?.code).toBe('transient');
  });
});
