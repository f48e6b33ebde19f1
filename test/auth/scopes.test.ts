import { describe, expect, it } from 'vitest';
import {
  allows,
  covers,
  type Permission,
  parseScope,
  parseScopes,
  type Scope,
} from '../../src/auth/scopes.ts';

const ALL_FIVE: Permission[] = ['c', 'r', 'u', 'd', 's'];

/** A scope that must parse; the tests below build their grants from real scope strings. */
function scope(text: string): Scope {
  const parsed = parseScope(text);
  if (!parsed) throw new Error(`${text} should parse`);
  return parsed;
}

const scopes = (...texts: string[]) => texts.map(scope);

// Every non-empty subsequence of c, r, u, d, s, in order: the 31 valid v2 forms.
const SUBSEQUENCES = Array.from({ length: 31 }, (_, i) => ALL_FIVE.filter((_, bit) => (i + 1) & (1 << bit)));

describe('parseScope: SMART v2 cruds', () => {
  it('knows 31 distinct in-order forms', () => {
    expect(new Set(SUBSEQUENCES.map((p) => p.join(''))).size).toBe(31);
  });

  it.each(SUBSEQUENCES.map((p) => [p.join(''), p] as const))(
    'parses system/Patient.%s',
    (access, letters) => {
      expect(parseScope(`system/Patient.${access}`)).toEqual({
        type: 'Patient',
        permissions: new Set(letters),
      });
    },
  );

  it.each([
    'rc', // r before c
    'sr',
    'dc',
    'du',
    'ur',
    'sd',
    'crusd', // s before d
    'scrud',
    'rr', // a letter twice
    'cc',
    'crr',
    'crudss',
    'rsr',
  ])('refuses out-of-order or repeated letters: %s', (access) => {
    expect(parseScope(`system/Patient.${access}`)).toBeUndefined();
  });

  it.each(['x', 'crudx', 'rw', 'v', 'r*', '*r', '**', 'c*ruds'])(
    'refuses letters that are not permissions: %s',
    (access) => {
      expect(parseScope(`system/Patient.${access}`)).toBeUndefined();
    },
  );
});

describe('parseScope: SMART v1 forms', () => {
  it('reads read as rs', () => {
    expect(parseScope('system/Patient.read')).toEqual({ type: 'Patient', permissions: new Set(['r', 's']) });
  });

  it('reads write as cud', () => {
    expect(parseScope('system/Patient.write')).toEqual({
      type: 'Patient',
      permissions: new Set(['c', 'u', 'd']),
    });
  });

  it('reads * as every permission', () => {
    expect(parseScope('system/Patient.*')).toEqual({ type: 'Patient', permissions: new Set(ALL_FIVE) });
  });

  it('gives read and rs the same meaning', () => {
    expect(parseScope('system/Task.read')).toEqual(parseScope('system/Task.rs'));
    expect(parseScope('system/Task.*')).toEqual(parseScope('system/Task.cruds'));
  });

  it.each(['Read', 'WRITE', 'readwrite', 'reads', 'writes', 'read*', 'rea'])(
    'refuses near-miss v1 words: %s',
    (access) => {
      expect(parseScope(`system/Patient.${access}`)).toBeUndefined();
    },
  );
});

describe('parseScope: resource types', () => {
  it('parses the wildcard type', () => {
    expect(parseScope('system/*.rs')).toEqual({ type: '*', permissions: new Set(['r', 's']) });
    expect(parseScope('system/*.*')).toEqual({ type: '*', permissions: new Set(ALL_FIVE) });
    expect(parseScope('system/*.write')).toEqual({ type: '*', permissions: new Set(['c', 'u', 'd']) });
  });

  it.each(['Patient', 'ServiceRequest', 'AuditEvent', 'QuestionnaireResponse', 'Go'])(
    'keeps the type name %s',
    (type) => {
      expect(parseScope(`system/${type}.r`)?.type).toBe(type);
    },
  );

  it.each([
    'patient', // lower-case initial
    'P', // one letter
    'Patient2',
    'Patient-x',
    'Patient_x',
    '**',
    'Pat*',
    '',
  ])('refuses the type %j', (type) => {
    expect(parseScope(`system/${type}.r`)).toBeUndefined();
  });
});

describe('parseScope: what is not a supported system scope', () => {
  it.each([
    'system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory',
    'system/Patient.r?',
    'system/Patient.rs?_id=1',
    'system/*.rs?x=y',
  ])('refuses a scope with query parameters: %s', (text) => {
    expect(parseScope(text)).toBeUndefined();
  });

  it.each([
    'user/Patient.rs',
    'patient/Patient.rs',
    'System/Patient.rs',
    'system:Patient.rs',
    'system//Patient.rs',
    'system/Patient',
    'system/Patient.',
    'system/.rs',
    'system/Patient.rs.extra',
    'system/Patient..rs',
    'system/Patient/rs',
    ' system/Patient.rs',
    'system/Patient.rs ',
    'system/Patient.rs\n',
    'xsystem/Patient.rs',
    'system/Patient.rs system/Task.rs',
    'openid',
    'launch',
    'offline_access',
    '',
  ])('refuses %j', (text) => {
    expect(parseScope(text)).toBeUndefined();
  });
});

describe('parseScopes', () => {
  it('splits on spaces and keeps the order', () => {
    const { scopes: parsed, invalid } = parseScopes('system/Patient.rs system/*.r system/Task.cruds');
    expect(parsed).toEqual([
      { type: 'Patient', permissions: new Set(['r', 's']) },
      { type: '*', permissions: new Set(['r']) },
      { type: 'Task', permissions: new Set(ALL_FIVE) },
    ]);
    expect(invalid).toEqual([]);
  });

  it('reports every part that does not parse, in order, beside those that do', () => {
    const result = parseScopes('openid system/Patient.rs system/Task.rc user/Task.r');
    expect(result.scopes).toEqual([{ type: 'Patient', permissions: new Set(['r', 's']) }]);
    expect(result.invalid).toEqual(['openid', 'system/Task.rc', 'user/Task.r']);
  });

  it('ignores repeated, leading and trailing spaces', () => {
    const result = parseScopes('  system/Patient.r   system/Task.s ');
    expect(result.scopes.map((s) => s.type)).toEqual(['Patient', 'Task']);
    expect(result.invalid).toEqual([]);
  });

  it('returns nothing for an empty string', () => {
    expect(parseScopes('')).toEqual({ scopes: [], invalid: [] });
    expect(parseScopes('   ')).toEqual({ scopes: [], invalid: [] });
  });

  it('splits on the space character only', () => {
    // Scope strings are space-delimited (RFC 6749 3.3), so a tab is part of a malformed scope.
    expect(parseScopes('system/Patient.r\tsystem/Task.r')).toEqual({
      scopes: [],
      invalid: ['system/Patient.r\tsystem/Task.r'],
    });
  });
});

describe('allows', () => {
  it('grants what a named scope lists, on that type only', () => {
    const granted = scopes('system/Patient.rs');
    expect(allows(granted, 'Patient', 'r')).toBe(true);
    expect(allows(granted, 'Patient', 's')).toBe(true);
    expect(allows(granted, 'Patient', 'c')).toBe(false);
    expect(allows(granted, 'Patient', 'u')).toBe(false);
    expect(allows(granted, 'Patient', 'd')).toBe(false);
    expect(allows(granted, 'Task', 'r')).toBe(false);
  });

  it('matches resource types case-sensitively', () => {
    expect(allows(scopes('system/Patient.r'), 'patient', 'r')).toBe(false);
  });

  it('grants nothing without scopes', () => {
    for (const permission of ALL_FIVE) expect(allows([], 'Patient', permission)).toBe(false);
  });

  it('grants a wildcard everything on personal data, reads of the directory, nothing of the audit trail', () => {
    for (const text of ['system/*.cruds', 'system/*.*']) {
      const granted = scopes(text);
      for (const type of ['Patient', 'Task', 'ServiceRequest', 'CarePlan', 'Provenance']) {
        for (const permission of ALL_FIVE) expect(allows(granted, type, permission)).toBe(true);
      }
      for (const permission of ALL_FIVE) expect(allows(granted, 'AuditEvent', permission)).toBe(false);
    }
  });

  it.each(['system/*.cruds', 'system/*.write', 'system/*.*', 'system/*.cud'])(
    'never grants directory writes through %s, only reads',
    (text) => {
      const granted = scopes(text);
      const reads = ['system/*.cruds', 'system/*.*'].includes(text);
      for (const type of ['Organization', 'HealthcareService', 'Location', 'Practitioner', 'Questionnaire']) {
        for (const permission of ['c', 'u', 'd'] as const)
          expect(allows(granted, type, permission)).toBe(false);
        expect(allows(granted, type, 'r')).toBe(reads);
      }
    },
  );

  it('grants directory writes to a scope naming the type', () => {
    const granted = scopes('system/HealthcareService.cu', 'system/*.cruds');
    expect(allows(granted, 'HealthcareService', 'c')).toBe(true);
    expect(allows(granted, 'HealthcareService', 'u')).toBe(true);
    expect(allows(granted, 'HealthcareService', 'd')).toBe(false);
    expect(allows(granted, 'Organization', 'u')).toBe(false);
  });

  it('grants a type with no class nothing through a wildcard', () => {
    for (const permission of ALL_FIVE)
      expect(allows(scopes('system/*.cruds'), 'Account', permission)).toBe(false);
    expect(allows(scopes('system/Account.r'), 'Account', 'r')).toBe(true);
  });

  it.each(['system/*.*', 'system/*.read', 'system/*.rs', 'system/*.r'])(
    'never grants AuditEvent reads through %s',
    (text) => {
      expect(allows(scopes(text), 'AuditEvent', 'r')).toBe(false);
    },
  );

  it('grants AuditEvent to a scope that names it', () => {
    const granted = scopes('system/AuditEvent.rs');
    expect(allows(granted, 'AuditEvent', 'r')).toBe(true);
    expect(allows(granted, 'AuditEvent', 's')).toBe(true);
    expect(allows(granted, 'AuditEvent', 'c')).toBe(false);
  });

  it('limits a wildcard to its own permissions', () => {
    const granted = scopes('system/*.rs');
    expect(allows(granted, 'Patient', 'r')).toBe(true);
    expect(allows(granted, 'Patient', 'u')).toBe(false);
  });

  it('combines several scopes', () => {
    const granted = scopes('system/*.rs', 'system/Task.u', 'system/AuditEvent.r');
    expect(allows(granted, 'Task', 'u')).toBe(true);
    expect(allows(granted, 'Task', 's')).toBe(true);
    expect(allows(granted, 'CarePlan', 'u')).toBe(false);
    expect(allows(granted, 'AuditEvent', 'r')).toBe(true);
    // The wildcard's s does not reach AuditEvent, and the named scope has only r.
    expect(allows(granted, 'AuditEvent', 's')).toBe(false);
  });
});

describe('covers', () => {
  it('covers a request for what is granted, or less', () => {
    const granted = scopes('system/Patient.cruds');
    expect(covers(granted, scope('system/Patient.rs'))).toBe(true);
    expect(covers(granted, scope('system/Patient.cruds'))).toBe(true);
    expect(covers(granted, scope('system/Patient.read'))).toBe(true);
  });

  it('refuses a request for more than is granted', () => {
    expect(covers(scopes('system/Patient.r'), scope('system/Patient.rs'))).toBe(false);
    expect(covers(scopes('system/Patient.rs'), scope('system/Patient.write'))).toBe(false);
  });

  it('refuses another type', () => {
    expect(covers(scopes('system/Patient.cruds'), scope('system/Task.r'))).toBe(false);
  });

  it('refuses everything when nothing is granted', () => {
    expect(covers([], scope('system/Patient.r'))).toBe(false);
  });

  it('lets a granted wildcard cover a named type', () => {
    expect(covers(scopes('system/*.rs'), scope('system/Task.rs'))).toBe(true);
    expect(covers(scopes('system/*.rs'), scope('system/Task.rus'))).toBe(false);
  });

  it('never widens named types into a wildcard', () => {
    expect(covers(scopes('system/Patient.cruds', 'system/Task.cruds'), scope('system/*.r'))).toBe(false);
  });

  it('lets a granted wildcard cover a requested wildcard with no more permissions', () => {
    expect(covers(scopes('system/*.rs'), scope('system/*.r'))).toBe(true);
    expect(covers(scopes('system/*.rs'), scope('system/*.rs'))).toBe(true);
    expect(covers(scopes('system/*.rs'), scope('system/*.cruds'))).toBe(false);
  });

  it('never grants AuditEvent through a wildcard', () => {
    expect(covers(scopes('system/*.*'), scope('system/AuditEvent.r'))).toBe(false);
    expect(covers(scopes('system/*.*', 'system/AuditEvent.r'), scope('system/AuditEvent.r'))).toBe(true);
    // s is left to the wildcard, which cannot give it for AuditEvent.
    expect(covers(scopes('system/*.*', 'system/AuditEvent.r'), scope('system/AuditEvent.rs'))).toBe(false);
  });

  it('may draw each permission from a different granted scope', () => {
    expect(covers(scopes('system/Patient.rs', 'system/Patient.cud'), scope('system/Patient.cruds'))).toBe(
      true,
    );
    expect(covers(scopes('system/*.r', 'system/Task.s'), scope('system/Task.rs'))).toBe(true);
  });
});
