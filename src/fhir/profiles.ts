import {
  getAllDataTypes,
  loadDataType,
  OperationOutcomeError,
  tryGetProfile,
  validateTypedValue,
} from '@medplum/core';
import type { Coding, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import slimProfiles from './definitions/profiles.json' with { type: 'json' };
import required from './definitions/required-value-sets.json' with { type: 'json' };
import { isValidNhsNumber } from './nhs-number.ts';
import type { Issue } from './outcomes.ts';
import { shapeIssues } from './shape.ts';
import { SYSTEM } from './systems.ts';

/**
 * The profiles the service enforces, built from profiles/ by SUSHI, as it indexes them (snapshots
 * without prose; the full StructureDefinitions are served from profiles/generated/).
 */
export const PROFILES: readonly StructureDefinition[] = (slimProfiles.entry ?? []).map(
  (e) => e.resource as unknown as StructureDefinition,
);

/** The profile each type's resources are held to, by resource type. */
export const PROFILE_OF: ReadonlyMap<string, StructureDefinition> = new Map(
  PROFILES.map((sd) => [sd.type as string, sd]),
);

interface Binding {
  path: string;
  expression: string;
  codes: ReadonlySet<string>;
  valueSet: string;
}

const REQUIRED_CODES: Record<string, string[]> = required.valueSets;
const bindings = new Map<string, Binding[]>();

/**
 * Parses a profile the first time it is needed, and registers its schema under the profile's name,
 * so that checking a resource against it costs a walk of the resource, not a parse of the profile.
 */
function indexProfile(sd: StructureDefinition): void {
  if (bindings.has(sd.url)) return;
  loadDataType(sd);
  const schema = tryGetProfile(sd.url);
  if (schema) getAllDataTypes()[sd.name] = schema;
  bindings.set(
    sd.url,
    (sd.snapshot?.element ?? []).flatMap((element) => {
      const valueSet = element.binding?.valueSet?.split('|')[0];
      const codes = valueSet ? REQUIRED_CODES[valueSet] : undefined;
      if (element.binding?.strength !== 'required' || !codes || element.path.includes('[x]')) return [];
      return [
        {
          path: element.path,
          expression: element.path.split('.').slice(1).join('.'),
          codes: new Set(codes),
          valueSet: valueSet as string,
        },
      ];
    }),
  );
}

/** Every profile at once (for measuring, and for callers that want no first-use cost). */
export function indexProfiles(): void {
  for (const sd of PROFILES) indexProfile(sd);
}

/**
 * Everything wrong with a resource against its profile (which includes base R4): structure,
 * cardinality, fixed values, slices, invariants, reference targets, codes in required bindings,
 * and for a Patient the NHS number's check digit. Warnings are returned too; they do not block.
 * Expressions are re-rooted under `at` when given.
 */
export function checkAgainstProfile(
  resource: Resource,
  options: { profile?: StructureDefinition; at?: string; nhsNumber?: boolean } = {},
): Issue[] {
  const { at } = options;
  const shape = shapeIssues(resource);
  if (shape.length) return shape.map((issue) => reroot(issue, resource.resourceType, at));
  const sd = options.profile ?? PROFILE_OF.get(resource.resourceType);
  if (sd) indexProfile(sd);
  const raw: OperationOutcomeIssue[] = [];
  try {
    raw.push(...validateTypedValue({ type: sd?.name ?? resource.resourceType, value: resource }));
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    raw.push(...(err.outcome.issue ?? []));
  }
  const issues: Issue[] = raw.map((issue) => ({
    severity: isWrongTarget(issue) ? 'error' : issue.severity,
    code: issue.code,
    diagnostics: issue.details?.text ?? issue.diagnostics ?? 'Invalid',
    ...(issue.expression ? { expression: issue.expression } : {}),
  }));
  if (sd) issues.push(...bindingIssues(resource, sd));
  if (resource.resourceType === 'Patient' && options.nhsNumber !== false)
    issues.push(...nhsNumberIssues(resource));
  return issues.map((issue) => reroot(issue, resource.resourceType, at));
}

/**
 * Medplum reports a reference to the wrong type of resource as a warning; a profile's `only
 * Reference(...)` is a rule, so it is an error here. References to Bundle entries (`urn:uuid:`)
 * cannot be checked this way and stay warnings.
 */
function isWrongTarget(issue: OperationOutcomeIssue): boolean {
  const text = issue.details?.text ?? '';
  return (
    issue.severity === 'warning' &&
    text.startsWith('Invalid reference: got "') &&
    !text.includes('"urn:uuid:')
  );
}

function bindingIssues(resource: Resource, sd: StructureDefinition): Issue[] {
  const issues: Issue[] = [];
  for (const binding of bindings.get(sd.url) ?? []) {
    for (const { value, path } of valuesAt(resource, resource.resourceType, binding.expression.split('.'))) {
      if (!inValueSet(value, binding.codes)) {
        issues.push({
          severity: 'error',
          code: 'code-invalid',
          diagnostics: `The code is not in the required value set ${binding.valueSet}`,
          expression: [path],
        });
      }
    }
  }
  return issues;
}

/** The values at an element path, each with its FHIRPath including array indexes. */
function valuesAt(node: unknown, path: string, segments: string[]): { value: unknown; path: string }[] {
  if (node === undefined || node === null) return [];
  const [head, ...rest] = segments;
  if (head === undefined) return [{ value: node, path }];
  const child = (node as Record<string, unknown>)[head];
  if (Array.isArray(child)) {
    return child.flatMap((item, i) => valuesAt(item, `${path}.${head}[${i}]`, rest));
  }
  return valuesAt(child, `${path}.${head}`, rest);
}

function inValueSet(value: unknown, codes: ReadonlySet<string>): boolean {
  if (typeof value === 'string') {
    for (const code of codes) if (code.endsWith(`|${value}`)) return true;
    return false;
  }
  const codings: Coding[] =
    value && typeof value === 'object'
      ? 'coding' in value
        ? ((value as { coding?: Coding[] }).coding ?? [])
        : [value as Coding]
      : [];
  return codings.some((c) => codes.has(`${c.system}|${c.code}`));
}

function nhsNumberIssues(
  resource: Resource & { identifier?: { system?: string; value?: string }[] },
): Issue[] {
  return (resource.identifier ?? []).flatMap((identifier, i): Issue[] => {
    const value = identifier.value;
    if (identifier.system !== SYSTEM.nhsNumber || !value) return [];
    const expression = [`Patient.identifier[${i}].value`];
    if (!/^\d{10}$/.test(value)) {
      return [
        {
          severity: 'error',
          code: 'value',
          diagnostics: 'An NHS number is ten digits, without spaces',
          expression,
        },
      ];
    }
    return isValidNhsNumber(value)
      ? []
      : [
          {
            severity: 'error',
            code: 'value',
            diagnostics: 'NHS number fails the Modulus 11 check',
            expression,
          },
        ];
  });
}

function reroot(issue: Issue, resourceType: string, at: string | undefined): Issue {
  if (!at || !issue.expression) return issue;
  return {
    ...issue,
    expression: issue.expression.map((e) =>
      e.startsWith(resourceType) ? at + e.slice(resourceType.length) : `${at}.${e}`,
    ),
  };
}

/**
 * The profile's errors about a resource that `reported` does not already name (the caller's own
 * checks, worded for its users, take precedence for the same element). Warnings are dropped.
 */
export function profileErrors(
  resource: Resource,
  reported: readonly Issue[],
  options: { at?: string; nhsNumber?: boolean } = {},
): Issue[] {
  if (!PROFILE_OF.has(resource.resourceType)) return [];
  const covered = new CoveredPaths(reported.flatMap((i) => i.expression ?? []));
  const issues: Issue[] = [];
  for (const issue of checkAgainstProfile(resource, options)) {
    if (issue.severity !== 'error' && issue.severity !== 'fatal') continue;
    const expression = issue.expression?.[0] ?? options.at ?? resource.resourceType;
    if (covered.overlaps(expression)) continue;
    covered.add(expression);
    issues.push(issue);
  }
  return issues;
}

/**
 * Expressions already reported, answering "is this one, an element inside it, or an element it
 * is inside already reported?" in time proportional to the expression's depth, not to how many
 * have been reported (a string sent where an object belongs gives one issue per character).
 */
class CoveredPaths {
  private readonly paths = new Set<string>();
  private readonly ancestors = new Set<string>();

  constructor(expressions: readonly string[]) {
    for (const expression of expressions) this.add(expression);
  }

  add(expression: string): void {
    this.paths.add(expression);
    for (const ancestor of ancestorsOf(expression)) this.ancestors.add(ancestor);
  }

  overlaps(expression: string): boolean {
    return (
      this.paths.has(expression) ||
      this.ancestors.has(expression) ||
      ancestorsOf(expression).some((ancestor) => this.paths.has(ancestor))
    );
  }
}

/** `A.b[0].c` -> `A`, `A.b`, `A.b[0]`. */
function ancestorsOf(expression: string): string[] {
  const ancestors: string[] = [];
  for (let i = 1; i < expression.length; i++) {
    if (expression[i] === '.' || expression[i] === '[') ancestors.push(expression.slice(0, i));
  }
  return ancestors;
}
