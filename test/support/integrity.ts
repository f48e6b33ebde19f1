import type { Consent, Provenance, Reference, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';
import type { FhirStore } from '../../src/medplum/store.ts';
import { all } from './referrals.ts';

/**
 * Everything wrong with the referrals in a store: each ServiceRequest must have its Patient, its
 * one Task, its one intake Provenance and the Consents it names; nothing may point at what is not
 * there (orphans). An empty list means every referral stored is whole.
 */
export async function referralProblems(store: FhirStore): Promise<string[]> {
  const [srs, tasks, provenances, consents, patients] = await Promise.all([
    all<ServiceRequest>(store, 'ServiceRequest'),
    all<Task>(store, 'Task'),
    all<Provenance>(store, 'Provenance'),
    all<Consent>(store, 'Consent'),
    all(store, 'Patient'),
  ]);
  const ids = new Set<string>();
  for (const r of [...srs, ...tasks, ...provenances, ...consents, ...patients] as Resource[]) {
    ids.add(`${r.resourceType}/${r.id}`);
  }
  for (const type of [
    'Organization',
    'Practitioner',
    'PractitionerRole',
    'Condition',
    'QuestionnaireResponse',
  ] as const) {
    for (const r of await all(store, type)) ids.add(`${type}/${r.id}`);
  }
  const problems: string[] = [];
  const exists = (ref: Reference | undefined) => !ref?.reference?.includes('/') || ids.has(ref.reference);
  for (const sr of srs) {
    const at = `ServiceRequest/${sr.id}`;
    if (!exists(sr.subject)) problems.push(`${at}: no Patient`);
    for (const info of sr.supportingInfo ?? [])
      if (!exists(info)) problems.push(`${at}: missing ${info.reference}`);
    const own = tasks.filter((t) => t.focus?.reference === at);
    if (own.length !== 1) problems.push(`${at}: ${own.length} Tasks`);
    const intake = provenances.filter(
      (p) => p.activity?.coding?.some((c) => c.code === 'CREATE') && p.target.some((t) => t.reference === at),
    );
    if (intake.length !== 1) problems.push(`${at}: ${intake.length} intake Provenances`);
  }
  for (const task of tasks) {
    if (!exists(task.focus) || !exists(task.for)) problems.push(`Task/${task.id}: orphan`);
  }
  for (const provenance of provenances) {
    if (provenance.target.some((t) => !exists(t))) problems.push(`Provenance/${provenance.id}: orphan`);
  }
  for (const consent of consents) {
    if (!exists(consent.patient)) problems.push(`Consent/${consent.id}: orphan`);
    if (!srs.some((sr) => sr.supportingInfo?.some((i) => i.reference === `Consent/${consent.id}`))) {
      problems.push(`Consent/${consent.id}: named by no referral`);
    }
  }
  return problems;
}
