import type { CapabilityStatement } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { dataClassOf, SERVED_RESOURCE_TYPES } from '../../src/fhir/resource-types.ts';
import { createTestApp } from '../support/app.ts';

describe('data classes', () => {
  it('hold every type the CapabilityStatement offers to one class', async () => {
    const { app } = createTestApp();
    const capability = (await (await app.request('/metadata')).json()) as CapabilityStatement;
    const offered = capability.rest?.[0]?.resource?.map((r) => r.type) ?? [];
    expect(offered.length).toBeGreaterThan(10);
    const unclassified = offered.filter((type) => dataClassOf(type) === undefined);
    expect(unclassified).toEqual([]);
  });

  it('give every served type a class and nothing else one', () => {
    for (const type of SERVED_RESOURCE_TYPES) expect(dataClassOf(type)).toBeDefined();
    for (const name of ['Account', 'Bundle', 'toString', 'constructor', '__proto__', ''])
      expect(dataClassOf(name)).toBeUndefined();
  });

  it('keep the audit trail apart from personal data and the directory', () => {
    expect(dataClassOf('AuditEvent')).toBe('operator');
    expect(dataClassOf('Patient')).toBe('personal');
    expect(dataClassOf('Provenance')).toBe('personal');
    expect(dataClassOf('HealthcareService')).toBe('directory');
    expect(dataClassOf('Questionnaire')).toBe('directory');
  });
});
