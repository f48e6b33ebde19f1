import type { Reference, Resource } from '@medplum/fhirtypes';
import { ODS_SYSTEMS } from '../fhir/systems.ts';
import { type FhirStore, readIfExists } from '../medplum/store.ts';
import { parseLocalReference } from './references.ts';

/** The ODS code an Organization carries, under either spelling of the system. */
export function odsCodeOf(resource: Resource | undefined): string | undefined {
  if (resource?.resourceType !== 'Organization') return undefined;
  return resource.identifier?.find((i) => ODS_SYSTEMS.includes(i.system ?? '') && i.value)?.value;
}

/**
 * The ODS code of the organisation a stored reference stands for: an Organization, or the
 * organisation of a PractitionerRole (or the ODS identifier of a logical reference). Undefined
 * when the reference names no stored organisation; a store outage is thrown, never taken for that.
 */
export async function organisationOdsOf(
  store: FhirStore,
  ref: Reference | undefined,
): Promise<string | undefined> {
  if (!ref) return undefined;
  if (ref.identifier && ODS_SYSTEMS.includes(ref.identifier.system ?? '')) return ref.identifier.value;
  const target = parseLocalReference(ref.reference);
  if (target?.type === 'Organization') return odsCodeOf(await readIfExists(store, 'Organization', target.id));
  if (target?.type === 'PractitionerRole') {
    const role = await readIfExists(store, 'PractitionerRole', target.id);
    return role?.resourceType === 'PractitionerRole'
      ? organisationOdsOf(store, role.organization)
      : undefined;
  }
  return undefined;
}
