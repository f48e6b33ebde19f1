import type { CarePlan, HealthcareService } from '@medplum/fhirtypes';
import type { Issue } from '../fhir/outcomes.ts';
import { type FhirStore, searchAll } from '../medplum/store.ts';
import { parseLocalReference } from '../workflow/references.ts';

/** A service an activity names, and where. */
interface NamedService {
  id: string;
  expression: string;
}

/** The HealthcareServices a plan's activities name as performers (`HealthcareService/{id}`). */
export function servicesNamed(carePlan: CarePlan, at: string): { named: NamedService[]; issues: Issue[] } {
  const named: NamedService[] = [];
  const issues: Issue[] = [];
  (carePlan.activity ?? []).forEach((activity, i) => {
    (activity.detail?.performer ?? []).forEach((performer, j) => {
      const expression = `${at}.activity[${i}].detail.performer[${j}]`;
      const reference = performer.reference;
      if (!reference?.includes('HealthcareService')) return;
      const target = parseLocalReference(reference);
      if (target?.type === 'HealthcareService') named.push({ id: target.id, expression });
      else
        issues.push({
          code: 'value',
          diagnostics: 'A service is named as HealthcareService/{id}, a service in this directory',
          expression: [expression],
        });
    });
  });
  return { named, issues };
}

/**
 * Checks that the services a plan's activities connect the person to are in the directory and
 * active, in one round trip. Services the stored version already named are not checked again:
 * one withdrawn since does not stop the plan being kept up to date.
 */
export async function planServiceIssues(
  store: FhirStore,
  carePlan: CarePlan,
  at: string,
  stored?: CarePlan,
): Promise<Issue[]> {
  const before = new Set(stored ? servicesNamed(stored, at).named.map((s) => s.id) : []);
  const { named, issues } = servicesNamed(carePlan, at);
  const toCheck = named.filter((s) => !before.has(s.id));
  if (toCheck.length === 0) return issues;
  const ids = [...new Set(toCheck.map((s) => s.id))];
  const [found] = await searchAll(store, [
    { type: 'HealthcareService', query: { _id: ids.join(','), _count: String(ids.length) } },
  ]);
  const services = new Map(
    (found?.entry ?? []).map((e) => [e.resource?.id, e.resource as HealthcareService] as const),
  );
  for (const { id, expression } of toCheck) {
    const service = services.get(id);
    if (!service) {
      issues.push({
        code: 'not-found',
        diagnostics: 'Names no service in the directory',
        expression: [expression],
      });
    } else if (service.active === false) {
      issues.push({
        code: 'business-rule',
        diagnostics: 'Names a service that has been marked inactive in the directory',
        expression: [expression],
      });
    }
  }
  return issues;
}
