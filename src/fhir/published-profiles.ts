import type { StructureDefinition } from '@medplum/fhirtypes';

type Loader = () => Promise<{ default: unknown }>;

/**
 * The full StructureDefinitions as published (prose, differential and snapshot), loaded the first
 * time each is asked for: they are for readers, and the service enforces the slim copies.
 */
const LOADERS: Record<string, Loader> = {
  'social-prescribing-patient': () =>
    import('../../profiles/generated/StructureDefinition-social-prescribing-patient.json', {
      with: { type: 'json' },
    }),
  'social-prescribing-organization': () =>
    import('../../profiles/generated/StructureDefinition-social-prescribing-organization.json', {
      with: { type: 'json' },
    }),
  'social-prescribing-consent': () =>
    import('../../profiles/generated/StructureDefinition-social-prescribing-consent.json', {
      with: { type: 'json' },
    }),
  'social-prescribing-referral': () =>
    import('../../profiles/generated/StructureDefinition-social-prescribing-referral.json', {
      with: { type: 'json' },
    }),
  'social-prescribing-referral-task': () =>
    import('../../profiles/generated/StructureDefinition-social-prescribing-referral-task.json', {
      with: { type: 'json' },
    }),
  'social-prescribing-care-plan': () =>
    import('../../profiles/generated/StructureDefinition-social-prescribing-care-plan.json', {
      with: { type: 'json' },
    }),
  'social-prescribing-goal': () =>
    import('../../profiles/generated/StructureDefinition-social-prescribing-goal.json', {
      with: { type: 'json' },
    }),
  'social-prescribing-care-team': () =>
    import('../../profiles/generated/StructureDefinition-social-prescribing-care-team.json', {
      with: { type: 'json' },
    }),
};

export async function publishedProfile(id: string): Promise<StructureDefinition | undefined> {
  const load = Object.hasOwn(LOADERS, id) ? LOADERS[id] : undefined;
  return load ? ((await load()).default as StructureDefinition) : undefined;
}
