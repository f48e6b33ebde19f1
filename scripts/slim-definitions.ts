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

function slimElement(element: ElementDefinition): ElementDefinition {
  const copy: Record<string, unknown> = { ...element };
  for (const field of STRIPPED_ELEMENT_FIELDS) delete copy[field];
  if (element.binding) {
    const { description: _d, extension: _e, ...binding } = element.binding;
    copy.binding = binding;
  }
  if (element.constraint) {
    copy.constraint = element.constraint.map(({ key, severity, human, expression }) => ({
      key,
      severity,
      human,
      expression,
    }));
  }
  return copy as unknown as ElementDefinition;
}

export function slimStructureDefinition(sd: StructureDefinition): StructureDefinition {
  const copy: Record<string, unknown> = { ...sd };
  for (const field of STRIPPED_SD_FIELDS) delete copy[field];
  copy.snapshot = { element: (sd.snapshot?.element ?? []).map(slimElement) };
  return copy as unknown as StructureDefinition;
}
