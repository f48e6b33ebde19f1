import { describe, expect, it } from 'vitest';
import {
  canMove,
  NEEDS_REASON,
  nextStatuses,
  REQUESTER_MAY_SET,
  serviceRequestStatusFor,
  type TaskStatus,
  TERMINAL,
} from '../../src/fhir/task-status.ts';

// Keyed by status so the compiler refuses a list that misses or invents an R4 Task status.
const ALL = Object.keys({
  draft: true,
  requested: true,
  received: true,
  accepted: true,
  rejected: true,
  ready: true,
  cancelled: true,
  'in-progress': true,
  'on-hold': true,
  failed: true,
  completed: true,
  'entered-in-error': true,
} satisfies Record<TaskStatus, true>) as TaskStatus[];

// The documented table (DOMAIN.md 4.4), written out independently of the module's own.
const DOCUMENTED: Record<TaskStatus, readonly TaskStatus[]> = {
  draft: ['requested'],
  requested: ['accepted', 'rejected', 'cancelled'],
  received: [],
  accepted: ['in-progress', 'on-hold', 'cancelled', 'completed', 'failed'],
  rejected: [],
  ready: [],
  cancelled: [],
  'in-progress': ['on-hold', 'cancelled', 'completed', 'failed'],
  'on-hold': ['in-progress', 'cancelled', 'completed', 'failed'],
  failed: [],
  completed: [],
  'entered-in-error': [],
};

function legal(from: TaskStatus): Set<TaskStatus> {
  const to = new Set(DOCUMENTED[from]);
  // Voiding is open from every status except the void one itself.
  if (from !== 'entered-in-error') to.add('entered-in-error');
  return to;
}

const PAIRS = ALL.flatMap((from) => ALL.map((to) => ({ from, to, allowed: legal(from).has(to) })));

describe('canMove', () => {
  it('covers all 144 pairs of the twelve R4 statuses', () => {
    expect(ALL).toHaveLength(12);
    expect(PAIRS).toHaveLength(144);
    // 3 + 5 + 4 + 4 + 1 documented moves, plus 11 moves to entered-in-error.
    expect(PAIRS.filter((p) => p.allowed)).toHaveLength(28);
  });

  it.each(PAIRS)('$from -> $to is allowed: $allowed', ({ from, to, allowed }) => {
    expect(canMove(from, to)).toBe(allowed);
  });

  it.each(ALL)('never allows %s to stay where it is', (status) => {
    // No status lists itself, so a no-op change is never a move.
    expect(canMove(status, status)).toBe(false);
  });
});

describe('nextStatuses', () => {
  it.each(ALL)('lists exactly the documented moves from %s', (from) => {
    const next = nextStatuses(from);
    expect(new Set(next)).toEqual(legal(from));
    // The list feeds an error message, so each status appears once.
    expect(next).toHaveLength(legal(from).size);
  });

  it('offers nothing after entered-in-error', () => {
    expect(nextStatuses('entered-in-error')).toEqual([]);
  });

  it.each(['received', 'ready', 'rejected', 'cancelled', 'failed', 'completed'] as const)(
    'offers only entered-in-error from %s',
    (from) => {
      expect(nextStatuses(from)).toEqual(['entered-in-error']);
    },
  );

  it('returns a fresh list each time, so a caller cannot change the table', () => {
    const first = nextStatuses('requested');
    first.push('completed');
    first.length = 0;
    expect(new Set(nextStatuses('requested'))).toEqual(
      new Set(['accepted', 'rejected', 'cancelled', 'entered-in-error']),
    );
    expect(canMove('requested', 'accepted')).toBe(true);
    expect(canMove('requested', 'completed')).toBe(false);
  });
});

const TERMINAL_EXPECTED = new Set<TaskStatus>([
  'rejected',
  'cancelled',
  'completed',
  'failed',
  'entered-in-error',
]);
const NEEDS_REASON_EXPECTED = new Set<TaskStatus>(['rejected', 'cancelled', 'on-hold', 'failed']);
const REQUESTER_EXPECTED = new Set<TaskStatus>(['cancelled', 'entered-in-error']);

describe('TERMINAL', () => {
  it('holds exactly the ending statuses', () => {
    expect(new Set(TERMINAL)).toEqual(TERMINAL_EXPECTED);
  });

  it.each(ALL)('%s is terminal only if it is an ending', (status) => {
    expect(TERMINAL.has(status)).toBe(TERMINAL_EXPECTED.has(status));
  });

  it.each([...TERMINAL_EXPECTED])('%s leads nowhere but entered-in-error', (status) => {
    // A terminal status that allowed a real move would contradict the table.
    expect(nextStatuses(status).filter((s) => s !== 'entered-in-error')).toEqual([]);
  });
});

describe('NEEDS_REASON', () => {
  it('holds exactly the statuses that must say why', () => {
    expect(new Set(NEEDS_REASON)).toEqual(NEEDS_REASON_EXPECTED);
  });

  it.each(ALL)('%s needs a reason only if documented', (status) => {
    expect(NEEDS_REASON.has(status)).toBe(NEEDS_REASON_EXPECTED.has(status));
  });
});

describe('REQUESTER_MAY_SET', () => {
  it('lets the referrer only withdraw or void', () => {
    expect(new Set(REQUESTER_MAY_SET)).toEqual(REQUESTER_EXPECTED);
  });

  it.each(ALL)('the referrer may set %s only if documented', (status) => {
    expect(REQUESTER_MAY_SET.has(status)).toBe(REQUESTER_EXPECTED.has(status));
  });
});

describe('serviceRequestStatusFor', () => {
  const EXPECTED: Record<TaskStatus, 'completed' | 'revoked' | 'entered-in-error' | undefined> = {
    draft: undefined,
    requested: undefined,
    received: undefined,
    accepted: undefined,
    rejected: 'revoked',
    ready: undefined,
    cancelled: 'revoked',
    'in-progress': undefined,
    'on-hold': undefined,
    failed: 'revoked',
    completed: 'completed',
    'entered-in-error': 'entered-in-error',
  };

  it.each(ALL)('maps a Task that is %s', (status) => {
    expect(serviceRequestStatusFor(status)).toBe(EXPECTED[status]);
  });

  it.each(ALL)('changes the ServiceRequest for %s only when the Task has ended', (status) => {
    // Only an ending touches the ServiceRequest; open statuses leave it active.
    expect(serviceRequestStatusFor(status) !== undefined).toBe(TERMINAL_EXPECTED.has(status));
  });
});
