import type { CapabilityStatement } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { call, createTestApp } from '../support/app.ts';

describe('the CapabilityStatement on conditional creates', () => {
  it('says which creates honour If-None-Exist', async () => {
    const { app } = createTestApp();
    const statement = (await (await call(app, '/metadata')).json()) as CapabilityStatement;
    const byType = new Map(statement.rest?.[0]?.resource?.map((r) => [r.type, r]));
    for (const type of ['ServiceRequest', 'CarePlan', 'QuestionnaireResponse'] as const) {
      expect(byType.get(type)?.conditionalCreate, type).toBe(true);
    }
    expect(byType.get('Patient')?.conditionalCreate).toBeUndefined();
  });
});
