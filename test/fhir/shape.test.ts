import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { indexDefinitions } from '../../src/fhir/definitions.ts';
import { shapeIssues } from '../../src/fhir/shape.ts';

describe('the shape check', () => {
  it('names each element of the wrong JSON shape', () => {
    indexDefinitions();
    const issues = shapeIssues({ resourceType: 'Patient', name: 'x', birthDate: 5 } as unknown as Resource);
    expect(issues.map((i) => i.expression?.[0]).sort()).toEqual(['Patient.birthDate', 'Patient.name']);
  });

  it('takes no inherited name for an element (bodies reaching it by other paths than HTTP)', () => {
    indexDefinitions();
    const odd = JSON.parse(
      '{"resourceType":"Location","toString":"x","position":{"valueOf":1,"latitude":"north"}}',
    );
    expect(() => shapeIssues(odd)).not.toThrow();
    expect(shapeIssues(odd).map((i) => i.expression?.[0])).toEqual(['Location.position.latitude']);
  });
});
