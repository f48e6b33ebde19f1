/**
 * What the service's indexed definitions keep of a StructureDefinition: the snapshot elements
 * without their prose (validation and search never read it), and no differential.
 */
import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

/** Element fields that carry prose only; validation and search never read them. */
const STRIPPED_ELEMENT_FIELDS = [
  'short',
  'definition',
  'comment',
  'requirements',
  'alias',
  'mapping',
  'example',
  'isModifierReason',
  'meaningWhenMissing',
] as const;
const STRIPPED_SD_FIELDS = [
  'text',
  'description',
  'purpose',
  'mapping',
  'contact',
  'publisher',
  'differential',
] as const;

/**
 * Constraints Medplum's validator never evaluates (its skip list in @medplum/core's
 * typeschema/validation.ts): `ele-1`, on every element, is four in five of all constraints kept.
 * The shape checks (src/fhir/shape.ts) refuse empty elements before validation.
 */
const UNEVALUATED_CONSTRAINTS = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);

function slimElement(element: ElementDefinition): ElementDefinition {
  const copy: Record<string, unknown> = { ...element };
  for (const field of STRIPPED_ELEMENT_FIELDS) delete copy[field];
  if (element.binding) {
    const { description: _d, extension: _e, ...binding } = element.binding;
    copy.binding = binding;
  }
  if (element.constraint) {
    const kept = element.constraint
      .filter((c) => !UNEVALUATED_CONSTRAINTS.has(c.key))
      .map(({ key, severity, human, expression }) => ({ key, severity, human, expression }));
    if (kept.length) copy.constraint = kept;
    else delete copy.constraint;
  }
  return copy as unknown as ElementDefinition;
}

export function slimStructureDefinition(sd: StructureDefinition): StructureDefinition {
  const copy: Record<string, unknown> = { ...sd };
  for (const field of STRIPPED_SD_FIELDS) delete copy[field];
  copy.snapshot = { element: (sd.snapshot?.element ?? []).map(slimElement) };
  return copy as unknown as StructureDefinition;
}
