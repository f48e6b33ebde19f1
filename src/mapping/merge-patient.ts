import { deepEquals } from '@medplum/core';
import type { Patient } from '@medplum/fhirtypes';

/** Demographic elements a referral may fill in on a stored Patient when they are missing there. */
const FILLABLE = [
  'name',
  'birthDate',
  'gender',
  'address',
  'telecom',
  'generalPractitioner',
  'managingOrganization',
] as const;

export interface PatientMerge {
  /** The stored Patient with missing demographics added, or undefined when nothing is added. */
  updated: Patient | undefined;
  /** Elements the referral gave differently from the stored record; the stored values were kept. */
  differing: string[];
}

/**
 * Adds what the stored Patient lacks from the referral's copy; never overwrites a stored value
 * (the clinical system of record may know better), but reports where the two differ.
 */
export function mergePatient(stored: Patient, incoming: Patient): PatientMerge {
  const updated: Patient = { ...stored };
  const differing: string[] = [];
  let changed = false;
  for (const key of FILLABLE) {
    const value = incoming[key];
    if (value === undefined) continue;
    if (stored[key] === undefined) {
      (updated as unknown as Record<string, unknown>)[key] = value;
      changed = true;
    } else if (!deepEquals(stored[key], value)) {
      differing.push(key);
    }
  }
  return { updated: changed ? updated : undefined, differing };
}
