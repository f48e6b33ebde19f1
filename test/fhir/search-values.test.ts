import { beforeAll, describe, expect, it } from 'vitest';
import { storeSearchParams } from '../../src/fhir/capability-statement.ts';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { GEOHASH_TAG_SYSTEM } from '../../src/fhir/geo.ts';
import { FhirError } from '../../src/fhir/outcomes.ts';
import { pagingParam } from '../../src/fhir/paging.ts';
import { READABLE_RESOURCE_TYPES, type ServedResourceType } from '../../src/fhir/resource-types.ts';
import { assertReadParams, checkSearchParam } from '../../src/fhir/search-values.ts';
import { applySubset, parseSubset } from '../../src/fhir/subset.ts';
import { OWN_SYSTEM } from '../../src/fhir/systems.ts';

beforeAll(() => indexDefinitions());

/** The issue a refusal raises: its code and the parameter it names. */
function refusal(fn: () => unknown): { code?: string; at?: string } {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof FhirError)) throw err;
    expect(err.kind).toBe('malformed');
    const issue = err.outcome.issue?.[0];
    return { code: issue?.code, at: issue?.expression?.[0] };
  }
  throw new Error('not refused');
}

const check = (type: ServedResourceType, key: string, value: string) => checkSearchParam(type, key, value);

describe('what is sent to the store', () => {
  it('filters and result parameters pass as asked; what the facade answers is kept back', () => {
    expect(check('Patient', 'name:contains', 'ok').forStore).toEqual(['name:contains', 'ok']);
    expect(check('Patient', '_sort', '-birthdate,_id').forStore).toEqual(['_sort', '-birthdate,_id']);
    expect(check('Patient', '_total', 'accurate').forStore).toEqual(['_total', 'accurate']);
    for (const key of ['_count', '_offset', '_summary', '_elements', '_format', '_pretty']) {
      expect(check('Patient', key, 'x').forStore, key).toBeUndefined();
    }
  });

  it('a type modifier becomes a typed reference; an include by element name, the parameter', () => {
    expect(check('Patient', 'general-practitioner:Practitioner', 'a1,Practitioner/b2').forStore).toEqual([
      'general-practitioner',
      'Practitioner/a1,Practitioner/b2',
    ]);
    expect(check('HealthcareService', '_include', 'HealthcareService:providedBy').forStore).toEqual([
      '_include',
      'HealthcareService:organization',
    ]);
    expect(
      check('Task', 'focus:ServiceRequest.subject:Patient.general-practitioner:Practitioner', 'p1').forStore,
    ).toEqual(['focus:ServiceRequest.subject:Patient.general-practitioner', 'Practitioner/p1']);
  });

  it('a chain says every type it reaches', () => {
    expect(check('Task', 'focus:ServiceRequest.subject:Patient.name', 'x').reaches).toEqual([
      'ServiceRequest',
      'Patient',
    ]);
    expect(check('Patient', 'organization.name', 'x').reaches).toEqual(['Organization']);
    expect(check('Patient', 'name', 'x').reaches).toEqual([]);
  });
});

describe('what is refused', () => {
  it('unknown modifiers invalid, R4 ones the store would misread not supported', () => {
    expect(refusal(() => check('Patient', 'name:bogusmod', 'x'))).toEqual({ code: 'invalid', at: 'name' });
    expect(refusal(() => check('Patient', 'name:', 'x'))).toEqual({ code: 'invalid', at: 'name' });
    expect(refusal(() => check('Patient', 'birthdate:exact', '2000'))).toEqual({
      code: 'invalid',
      at: 'birthdate',
    });
    for (const [key, at] of [
      ['gender:text', 'gender'],
      ['gender:in', 'gender'],
      ['identifier:of-type', 'identifier'],
      ['organization:identifier', 'organization'],
      ['_profile:below', '_profile'],
    ]) {
      expect(
        refusal(() => check('Patient', key as string, 'x|y')),
        key,
      ).toEqual({ code: 'not-supported', at });
    }
  });

  it('every modifier the store honours, on every parameter type that R4 gives it to', () => {
    const samples: Record<string, string> = {
      date: 'true',
      string: 'true',
      token: 'true',
      reference: 'true',
    };
    for (const sp of storeSearchParams('Patient')) {
      if (sp.name === '_tag' || !samples[sp.type]) continue;
      expect(check('Patient', `${sp.name}:missing`, 'true').forStore?.[0]).toBe(`${sp.name}:missing`);
    }
    expect(check('Patient', 'active:not', 'true').forStore?.[0]).toBe('active:not');
    expect(check('Patient', 'family:exact', 'x').forStore?.[0]).toBe('family:exact');
    expect(refusal(() => check('Patient', 'active:missing', 'yes')).at).toBe('active');
  });

  it('every system of the service’s own, in _tag, however it is spelled', () => {
    for (const system of [...Object.values(OWN_SYSTEM), GEOHASH_TAG_SYSTEM]) {
      for (const value of [
        `${system}|x`,
        `other|y,${system}|x`,
        ` ${system.toUpperCase()}|X`,
        `${system}|`,
      ]) {
        for (const key of ['_tag', '_tag:not', 'organization:Organization._tag']) {
          const at = key.split(/[:.]/)[0];
          expect(
            refusal(() => check('Patient', key, value)),
            `${key}=${value}`,
          ).toEqual({ code: 'invalid', at });
        }
      }
    }
    expect(refusal(() => check('Patient', '_tag', 'code-alone')).code).toBe('invalid');
    expect(refusal(() => check('Patient', '_tag:missing', 'false')).code).toBe('not-supported');
    expect(check('Patient', '_tag', 'https://tags.example.org|x,|y').forStore).toEqual([
      '_tag',
      'https://tags.example.org|x,|y',
    ]);
  });

  it('the access labels and the store’s internals, as a key, in a chain, in an include or a sort', () => {
    expect(refusal(() => check('Patient', '_security', 'x'))).toEqual({ code: 'invalid', at: '_security' });
    expect(refusal(() => check('Patient', '_compartment:missing', 'true')).at).toBe('_compartment');
    expect(refusal(() => check('Task', 'focus:Patient._security', 'x')).at).toBe('_security');
    expect(refusal(() => check('Patient', '_include', 'Patient:_compartment')).at).toBe('_include');
    for (const key of ['_security', '_tag', '_compartment', '_source', '_project', '_profile', '-_tag']) {
      expect(
        refusal(() => check('Patient', '_sort', key)),
        key,
      ).toEqual({ code: 'invalid', at: '_sort' });
    }
    expect(refusal(() => check('Patient', '_has:Task:patient:status', 'x'))).toEqual({
      code: 'not-supported',
      at: '_has',
    });
  });

  it('includes of the wrong shape, from the wrong type, or to a type not served', () => {
    const bad: [ServedResourceType, string, string][] = [
      ['Organization', '_include', 'Patient:organization'],
      ['Patient', '_include', 'Patient'],
      ['Patient', '_include', 'Patient:'],
      ['Patient', '_include', 'Patient:name'],
      ['Patient', '_include', 'Patient:organization:Patient'],
      ['Patient', '_include', 'Patient:link:Medication'],
      ['Patient', '_include:recurse', 'Patient:organization'],
      ['Patient', '_revinclude', 'Encounter:patient'],
      ['Patient', '_revinclude', 'Organization:partof'],
      ['Patient', '_revinclude', 'Provenance:target:Task'],
    ];
    for (const [type, key, value] of bad) {
      expect(
        refusal(() => check(type, key, value)),
        `${type}?${key}=${value}`,
      ).toEqual({
        code: 'invalid',
        at: key.split(':')[0],
      });
    }
    expect(refusal(() => check('Patient', '_include', 'Patient:*')).code).toBe('not-supported');
    // Iterated, an include starts from whatever the search has included.
    expect(check('CarePlan', '_include:iterate', 'ServiceRequest:requester').forStore?.[1]).toBe(
      'ServiceRequest:requester',
    );
  });

  it('chains that are not reference links to one served type', () => {
    for (const key of [
      'name.family',
      'general-practitioner.name',
      'link:Medication.name',
      'organization.bogus',
    ]) {
      expect(
        refusal(() => check('Patient', key, 'x')),
        key,
      ).toEqual({ code: 'invalid', at: key.split(/[:.]/)[0] });
    }
  });

  it('result parameters with a modifier or a value they do not take', () => {
    expect(refusal(() => check('Patient', '_count:x', '1')).at).toBe('_count');
    expect(refusal(() => check('Patient', '_total', 'all')).at).toBe('_total');
    expect(refusal(() => check('Patient', '_sort', '')).at).toBe('_sort');
  });
});

describe('the CapabilityStatement and the rules agree', () => {
  it('every _include and _revinclude it would declare for a searched type is accepted', () => {
    for (const type of READABLE_RESOURCE_TYPES) {
      for (const sp of storeSearchParams(type).filter((p) => p.type === 'reference')) {
        expect(() => check(type, '_include', `${type}:${sp.name}`), `${type}:${sp.name}`).not.toThrow();
        for (const target of READABLE_RESOURCE_TYPES.filter((t) => sp.target?.includes(t))) {
          expect(
            () => check(target, '_revinclude', `${type}:${sp.name}`),
            `${target} <- ${sp.name}`,
          ).not.toThrow();
        }
      }
    }
  });

  it('every parameter it declares sorts, but those on meta other than _id and _lastUpdated', () => {
    for (const type of READABLE_RESOURCE_TYPES) {
      for (const sp of storeSearchParams(type)) {
        const hidden = sp.name.startsWith('_') && !['_id', '_lastUpdated'].includes(sp.name);
        if (hidden) expect(refusal(() => check(type, '_sort', sp.name)).at).toBe('_sort');
        else expect(check(type, '_sort', `-${sp.name}`).forStore?.[1]).toBe(`-${sp.name}`);
      }
    }
  });
});

describe('reads', () => {
  it('take only what shapes the answer', () => {
    expect(() =>
      assertReadParams(new URLSearchParams('_summary=true&_format=json&_pretty=true')),
    ).not.toThrow();
    expect(refusal(() => assertReadParams(new URLSearchParams('_elements=name&name=x')))).toEqual({
      code: 'invalid',
      at: 'name',
    });
  });
});

describe('_elements', () => {
  it('names top-level elements of the type, a choice by its name or a typed key', () => {
    expect(
      parseSubset(new URLSearchParams('_elements=name,deceased,multipleBirthInteger'), true, 'Patient'),
    ).toEqual({ elements: ['name', 'deceased', 'multipleBirth'] });
    for (const value of [
      'bogus',
      'name.family',
      'Patient.name',
      'resourceType',
      'deceasedString',
      'deceased[x]',
    ]) {
      expect(
        refusal(() => parseSubset(new URLSearchParams({ _elements: value }), true, 'Patient')),
        value,
      ).toEqual({
        code: 'invalid',
        at: '_elements',
      });
    }
  });

  it('keeps a choice element and a primitive’s extension with their element', () => {
    const subset = parseSubset(new URLSearchParams('_elements=deceased,birthDate'), false, 'Patient');
    const kept = applySubset(
      {
        resourceType: 'Patient',
        id: 'p',
        deceasedDateTime: '2020-01-01',
        birthDate: '1948-03-02',
        _birthDate: { extension: [{ url: 'http://example.org/x', valueString: 'y' }] },
        gender: 'female',
      } as never,
      subset,
    ) as Record<string, unknown>;
    expect(Object.keys(kept).sort()).toEqual([
      '_birthDate',
      'birthDate',
      'deceasedDateTime',
      'id',
      'meta',
      'resourceType',
    ]);
  });
});

describe('paging parameters', () => {
  it('are given once, as plain non-negative integers', () => {
    expect(pagingParam(new URLSearchParams('_count=5'), '_count', 20)).toBe(5);
    expect(pagingParam(new URLSearchParams(), '_count', 20)).toBe(20);
    for (const query of [
      '_count=5&_count=6',
      '_count=',
      '_count=1e3',
      '_count=-1',
      '_count=1.5',
      '_count= 5',
    ]) {
      expect(
        refusal(() => pagingParam(new URLSearchParams(query), '_count', 20)),
        query,
      ).toEqual({
        code: 'invalid',
        at: '_count',
      });
    }
  });

  it('reach at most 10,000 deep, as Medplum’s server does, on every store', () => {
    expect(pagingParam(new URLSearchParams('_offset=10000'), '_offset', 0)).toBe(10_000);
    expect(refusal(() => pagingParam(new URLSearchParams('_offset=10001'), '_offset', 0))).toEqual({
      code: 'invalid',
      at: '_offset',
    });
    expect(pagingParam(new URLSearchParams('_count=10001'), '_count', 20)).toBe(10_001);
  });
});
