import {
  evalFhirPath,
  evalFhirPathTyped,
  getSearchParameter,
  getSearchParameterDetails,
  SearchParameterType,
  type TypedValue,
  toTypedValue,
} from '@medplum/core';
import type {
  Bundle,
  CapabilityStatement,
  CapabilityStatementRestResource,
  Resource,
  SearchParameter,
  ValueSet,
} from '@medplum/fhirtypes';
import searchParameters from '../../src/fhir/definitions/search-parameters.json' with { type: 'json' };
import { CANONICAL_BASE } from '../../src/fhir/systems.ts';

/** Sends one request to the app as the walking client; `type` is the resource type it concerns. */
export type Send = (
  type: string,
  path: string,
  init?: { method?: string; body?: unknown; headers?: Record<string, string> },
) => Promise<Response>;

/** A request the walk checks; `success` when only a 2xx will do (a read of what was just listed). */
type Request = (
  type: string,
  path: string,
  init?: Parameters<Send>[2] & { success?: boolean },
) => Promise<Response>;

/**
 * Answers a standard client cannot live with: the statement said this is served. A throttled
 * request (429) checked nothing, so it fails the walk too.
 */
const broken = (status: number) => [400, 404, 405, 429].includes(status) || status >= 500;

/**
 * The SearchParameters of the served types, by canonical URL (what the statement points at): the
 * service's own slim copy of R4's and Medplum's, which loads in workerd as in Node.
 */
const DEFINITIONS = new Map<string, SearchParameter>(
  ((searchParameters as unknown as Bundle).entry ?? []).map((e) => {
    const sp = e.resource as SearchParameter;
    return [sp.url, sp] as const;
  }),
);
// R4's `url` of the published definitions (src/routes/contract.ts), whose types are not indexed.
const CONFORMANCE_URL: SearchParameter = {
  resourceType: 'SearchParameter',
  url: 'http://hl7.org/fhir/SearchParameter/conformance-url',
  name: 'url',
  code: 'url',
  status: 'active',
  description: 'The uri that identifies the resource',
  base: ['CodeSystem', 'OperationDefinition', 'StructureDefinition', 'ValueSet'],
  type: 'uri',
  expression: 'CodeSystem.url | OperationDefinition.url | StructureDefinition.url | ValueSet.url',
};
DEFINITIONS.set(CONFORMANCE_URL.url as string, CONFORMANCE_URL);

/** A value of the right form for a parameter type, for a type with nothing stored to take one from. */
const PLACEHOLDER: Record<string, string> = {
  token: 'walk-none',
  reference: 'Patient/walk-none',
  date: 'ge2000-01-01',
  string: 'walk',
  uri: 'http://example.org/walk',
  number: '1',
  quantity: '1',
  /** `near`, the one special parameter declared: ten kilometres around Leeds. */
  special: '53.8|-1.55|10|km',
};

const coding = (c?: { system?: string; code?: string }) =>
  c?.code ? (c.system ? `${c.system}|${c.code}` : c.code) : undefined;

/** The search value that should find the resource this typed value was taken from. */
function searchValue(paramType: string, tv: TypedValue): string | undefined {
  const v = tv.value as Record<string, unknown> & { coding?: { system?: string; code?: string }[] };
  if (typeof tv.value === 'boolean') return String(tv.value);
  if (paramType === 'number' || (typeof tv.value === 'number' && paramType !== 'quantity'))
    return String(tv.value);
  if (paramType === 'date') {
    // The day, as clients search: Medplum's `eq` on an instant matches no stored instant.
    const at = (typeof tv.value === 'string' ? tv.value : (v.start ?? v.end ?? (v.event as string[])?.[0])) as
      | string
      | undefined;
    return at && /^\d{4}-\d{2}-\d{2}/.test(at) ? at.slice(0, 10) : undefined;
  }
  if (typeof tv.value === 'string') return tv.value;
  // `near` (Location.position): a kilometre around the place.
  if (paramType === 'special' && typeof v.latitude === 'number') return `${v.latitude}|${v.longitude}|1|km`;
  switch (paramType) {
    case 'token':
      if (tv.type === 'CodeableConcept') return coding(v.coding?.[0]);
      if (tv.type === 'Identifier')
        return v.value ? (v.system ? `${v.system}|${v.value}` : String(v.value)) : undefined;
      return tv.type === 'ContactPoint'
        ? (v.value as string)
        : coding(v as { system?: string; code?: string });
    case 'reference':
      return /^[A-Z][A-Za-z]+\/[^/]+$/.test(String(v.reference)) ? String(v.reference) : undefined;
    case 'string':
      return (v.family ?? (v.given as string[])?.[0] ?? v.city ?? (v.line as string[])?.[0]) as string;
    case 'quantity':
      return v.value === undefined ? undefined : String(v.value);
    default:
      return undefined;
  }
}

/**
 * Whether the service answers a search by this value: `_tag` searches only tags of other systems
 * than the service's own, each named by its system.
 */
const searchable = (param: SearchParameter, value: string) =>
  param.code !== '_tag' ||
  (value.includes('|') && !value.toLowerCase().startsWith(CANONICAL_BASE.toLowerCase()));

/** A value for the parameter taken from a stored resource, with the resource it should find. */
function valueFrom(param: SearchParameter, samples: Resource[]): { value: string; id?: string } {
  for (const resource of samples) {
    let found = evalFhirPathTyped(param.expression ?? '', [toTypedValue(resource)]);
    // Types outside the indexed definitions (the contract's) are walked untyped.
    if (!found.length) found = evalFhirPath(param.expression ?? '', resource).map(toTypedValue);
    for (const tv of found) {
      const value = searchValue(param.type, tv);
      if (value && searchable(param, value)) return { value, ...(resource.id ? { id: resource.id } : {}) };
    }
  }
  if (param.code === '_tag') return { value: 'http://example.org/walk|walk-none' };
  const boolean = param.type === 'token' && samples[0] && isBoolean(samples[0].resourceType, param);
  return { value: boolean ? 'true' : (PLACEHOLDER[param.type] ?? 'walk') };
}

/** Whether a token parameter is on a boolean element (true or false its only values). */
function isBoolean(type: string, param: SearchParameter): boolean {
  try {
    return getSearchParameterDetails(type, param).type === SearchParameterType.BOOLEAN;
  } catch {
    return false;
  }
}

const lastSegment = (url: string) => url.split('|')[0]?.split('/').pop() as string;

const matches = (bundle: Bundle) =>
  (bundle.entry ?? []).filter((e) => e.search?.mode !== 'include').map((e) => e.resource as Resource);

/**
 * Reads /metadata and requests everything it declares: each interaction, search parameter (with a
 * value taken from stored data where there is one, which must then find that resource),
 * `_include` and `_revinclude` value, operation (and its OperationDefinition) and supported
 * profile. Returns what failed; interactions that write go last, on a resource read just before.
 */
export async function walkStatement(statement: CapabilityStatement, send: Send): Promise<string[]> {
  const problems: string[] = [];
  const request: Request = async (type, path, init = {}) => {
    const { success, ...sent } = init;
    const response = await send(type, path, sent);
    if (broken(response.status) || (success && !response.ok)) {
      const body = await response.clone().text();
      problems.push(`${init.method ?? 'GET'} ${path} answered ${response.status}: ${body.slice(0, 300)}`);
    }
    return response;
  };
  const resources = statement.rest?.[0]?.resource ?? [];
  const samples = new Map<string, Resource[]>();
  for (const r of resources) {
    if (!r.interaction?.some((i) => i.code === 'search-type')) continue;
    const answer = await request(r.type, `/fhir/${r.type}?_count=100`);
    samples.set(r.type, answer.ok ? matches((await answer.json()) as Bundle) : []);
  }
  const storedText = JSON.stringify([...samples.values()]);
  const canonicals = [
    ...resources.flatMap((r) => r.supportedProfile ?? []),
    ...resources.flatMap((r) => (r.operation ?? []).map((o) => o.definition)),
  ];
  /** Ids of a type that is read but not searched: named by the statement or by stored data. */
  const namedIds = (type: string) => [
    ...new Set([
      ...canonicals.filter((u) => u.includes(`/${type}/`)).map(lastSegment),
      ...[...storedText.matchAll(new RegExp(`https?://[^"|]+/${type}/([A-Za-z0-9.-]+)`, 'g'))].map(
        (m) => m[1] as string,
      ),
    ]),
  ];
  for (const r of resources) {
    const stored = samples.get(r.type) ?? [];
    const ids = stored.length ? stored.map((s) => s.id as string) : namedIds(r.type);
    const codes = new Set(r.interaction?.map((i) => i.code));
    const id = ids[0];
    if (!id && (codes.has('read') || r.operation?.some((o) => o.name !== 'validate'))) {
      problems.push(`${r.type}: nothing stored or named to read`);
      continue;
    }
    const success = true;
    if (codes.has('read')) await request(r.type, `/fhir/${r.type}/${id}`, { success });
    if (codes.has('history-instance')) await request(r.type, `/fhir/${r.type}/${id}/_history`, { success });
    if (codes.has('history-type')) await request(r.type, `/fhir/${r.type}/_history`, { success });
    if (codes.has('vread')) {
      const current = (await (await send(r.type, `/fhir/${r.type}/${id}`)).json()) as Resource;
      await request(r.type, `/fhir/${r.type}/${id}/_history/${current.meta?.versionId}`, { success });
    }
    for (const param of r.searchParam ?? []) {
      const definition = param.definition ? DEFINITIONS.get(param.definition) : undefined;
      if (!definition) {
        problems.push(`${r.type}?${param.name}: no SearchParameter at ${param.definition}`);
        continue;
      }
      // Medplum's own copy where it has one: `_id` and the like are per type there.
      const { value, id: expected } = valueFrom(getSearchParameter(r.type, param.name) ?? definition, stored);
      const query = new URLSearchParams({ [param.name]: value, _count: '100' });
      const answer = await request(r.type, `/fhir/${r.type}?${query}`);
      if (answer.ok && expected && !matches((await answer.json()) as Bundle).some((m) => m.id === expected)) {
        problems.push(`${r.type}?${query}: does not find ${r.type}/${expected}, whose value it is`);
      }
    }
    for (const [key, values] of [
      ['_include', r.searchInclude],
      ['_revinclude', r.searchRevInclude],
    ] as const) {
      for (const value of values ?? []) {
        await request(r.type, `/fhir/${r.type}?${new URLSearchParams({ [key]: value })}`);
      }
    }
    for (const operation of r.operation ?? []) {
      const definition = await request(
        'OperationDefinition',
        `/fhir/OperationDefinition/${lastSegment(operation.definition)}`,
      );
      if (definition.ok && ((await definition.json()) as { url?: string }).url !== operation.definition) {
        problems.push(
          `OperationDefinition/${lastSegment(operation.definition)} is not ${operation.definition}`,
        );
      }
      await invoke(r, operation.name, stored, id, request, problems);
    }
    for (const profile of r.supportedProfile ?? []) {
      const answer = await request(
        'StructureDefinition',
        `/fhir/StructureDefinition/${lastSegment(profile)}`,
      );
      if (answer.ok && ((await answer.json()) as { url?: string }).url !== profile) {
        problems.push(`StructureDefinition/${lastSegment(profile)} is not ${profile}`);
      }
    }
    if (id) await writes(r, codes, id, send, request);
  }
  return problems;
}

/** Calls one declared operation the way its OperationDefinition says it is called. */
async function invoke(
  r: CapabilityStatementRestResource,
  name: string,
  stored: Resource[],
  id: string | undefined,
  request: Request,
  problems: string[],
): Promise<void> {
  const base = `/fhir/${r.type}`;
  switch (name) {
    case 'validate': {
      const body = stored[0] ?? { resourceType: r.type };
      await request(r.type, `${base}/$validate`, { method: 'POST', body, success: true });
      return;
    }
    case 'expand':
      // Every served value set: each expands, or says why it cannot (a filter on SNOMED CT, ...).
      for (const vs of stored as ValueSet[]) {
        await request(r.type, `${base}/$expand?${new URLSearchParams({ url: vs.url as string })}`);
        await request(r.type, `${base}/${vs.id}/$expand`);
      }
      return;
    case 'validate-code': {
      const vs = stored[0] as ValueSet;
      const expanded = (await (await request(r.type, `${base}/${vs.id}/$expand`)).json()) as ValueSet;
      const concept = expanded.expansion?.contains?.[0];
      const query = new URLSearchParams({
        url: vs.url as string,
        system: concept?.system as string,
        code: concept?.code as string,
      });
      const answer = await request(r.type, `${base}/$validate-code?${query}`, { success: true });
      if (!JSON.stringify(await answer.json()).includes('"valueBoolean":true')) {
        problems.push(`${base}/$validate-code?${query} does not find a code of the expansion`);
      }
      return;
    }
    case 'import-open-referral': {
      const feed = [
        { id: 'walk-service', name: 'Walk service', organization: { id: 'walk-org', name: 'Walk org' } },
      ];
      await request(r.type, `${base}/$${name}`, { method: 'POST', body: feed, success: true });
      return;
    }
    case 'meeting-list':
      await request(r.type, `${base}/$${name}?since=2000-01-01T00:00:00Z`, { success: true });
      return;
    case 'outcomes':
    case 'social-prescribing-summary':
      await request(r.type, `${base}/${id}/$${name}`, { success: true });
      return;
    default:
      problems.push(`${r.type}/$${name}: the walk does not know how to call it`);
  }
}

/** Create, update and patch, each a real request on a resource read just before. */
async function writes(
  r: CapabilityStatementRestResource,
  codes: Set<string | undefined>,
  id: string,
  send: Send,
  request: Request,
): Promise<void> {
  const read = async () => {
    const response = await send(r.type, `/fhir/${r.type}/${id}`);
    return { resource: (await response.json()) as Resource, etag: response.headers.get('etag') ?? '' };
  };
  if (codes.has('create')) {
    // A copy of what is stored: it may be refused as a duplicate, which still proves the route.
    const { resource } = await read();
    const { id: _id, meta: _meta, ...copy } = resource;
    await request(r.type, `/fhir/${r.type}`, { method: 'POST', body: copy });
  }
  if (codes.has('update')) {
    const { resource, etag } = await read();
    await request(r.type, `/fhir/${r.type}/${id}`, {
      method: 'PUT',
      body: resource,
      headers: { 'if-match': etag },
      // The resource as read, sent back unchanged: nothing for the rules to refuse.
      success: true,
    });
  }
  if (codes.has('patch')) {
    const { etag } = await read();
    await request(r.type, `/fhir/${r.type}/${id}`, {
      method: 'PATCH',
      body: [{ op: 'test', path: '/id', value: id }],
      headers: { 'if-match': etag, 'content-type': 'application/json-patch+json' },
      success: true,
    });
  }
}

/** A value of the parameter's type that no stored resource holds. */
const NON_MATCHING: Record<string, string> = {
  token: 'http://example.org/none|none',
  reference: 'Patient/00000000-0000-4000-8000-0000000000ff',
  date: '1900-01-01',
  string: 'zzzz-nobody',
  uri: 'http://example.org/none',
  number: '987654321',
  quantity: '987654321',
};

/** A value no parameter of the type can mean: a 400, not a filter that finds nothing. */
const MALFORMED: Record<string, string> = {
  date: 'not-a-date',
  number: 'not-a-number',
  quantity: 'not-a-quantity',
};

/** The modifiers R4 gives each parameter type that the service honours. */
const MODIFIERS: Record<string, string[]> = {
  string: ['exact', 'contains', 'missing'],
  token: ['not', 'missing'],
  reference: ['missing'],
  date: ['missing'],
  uri: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
};

/**
 * For every declared search parameter with a value in stored data: the value finds the resource
 * it came from, a value of the same type that nothing holds does not, a malformed value is a 400,
 * and each honoured modifier answers as it must (`:missing=true` leaves the resource out and
 * `:missing=false` keeps it, `:not` leaves it out, `:exact` with the whole value and `:contains`
 * with a part of it keep it). A parameter the service ignored would answer one of these as if it
 * were absent. Returns the problems and how many requests were tried.
 */
export async function probeSearchParams(
  statement: CapabilityStatement,
  send: Send,
): Promise<{ problems: string[]; tried: number; parameters: number }> {
  const problems: string[] = [];
  let tried = 0;
  let parameters = 0;
  const found = async (type: string, query: Record<string, string>) => {
    tried++;
    const path = `/fhir/${type}?${new URLSearchParams({ ...query, _count: '100' })}`;
    const response = await send(type, path);
    if (!response.ok) return { path, status: response.status, ids: [] as string[] };
    return {
      path,
      status: response.status,
      ids: matches((await response.json()) as Bundle).map((r) => r.id as string),
    };
  };
  for (const r of statement.rest?.[0]?.resource ?? []) {
    if (!r.interaction?.some((i) => i.code === 'search-type')) continue;
    const all = await send(r.type, `/fhir/${r.type}?_count=100`);
    if (!all.ok) continue;
    const stored = matches((await all.json()) as Bundle);
    for (const declared of r.searchParam ?? []) {
      const definition = declared.definition ? DEFINITIONS.get(declared.definition) : undefined;
      const param = getSearchParameter(r.type, declared.name) ?? definition;
      if (!param || declared.type === 'special' || declared.name.startsWith('_')) continue;
      const { value, id } = valueFrom(param, stored);
      if (!id) continue;
      parameters++;
      const expect = (ok: boolean, what: string, answer: { path: string; status: number }) => {
        if (!ok) problems.push(`${answer.path} (${answer.status}): ${what}`);
      };
      const name = declared.name;
      const hit = await found(r.type, { [name]: value });
      expect(hit.ids.includes(id), `does not find ${r.type}/${id}, whose value it is`, hit);
      // The other boolean, for a boolean: a value of the form that the resource does not hold.
      const none = value === 'true' ? 'false' : value === 'false' ? 'true' : NON_MATCHING[declared.type];
      if (none && !value.split(',').includes(none)) {
        const miss = await found(r.type, { [name]: none });
        expect(
          miss.status === 200 && !miss.ids.includes(id),
          `finds ${r.type}/${id} by a value it does not hold`,
          miss,
        );
      }
      // A token of a boolean element takes true or false only.
      const malformed =
        MALFORMED[declared.type] ?? (value === 'true' || value === 'false' ? 'notabool' : undefined);
      if (malformed) {
        const bad = await found(r.type, { [name]: malformed });
        expect(bad.status === 400, 'takes a malformed value', bad);
      }
      for (const modifier of MODIFIERS[declared.type] ?? []) {
        // A modifier refused (400, with an OperationOutcome saying so) is not one ignored.
        const refused = async (query: Record<string, string>) => {
          const answer = await found(r.type, query);
          return answer.status === 400 ? undefined : answer;
        };
        if (modifier === 'missing') {
          if (!(await refused({ [`${name}:missing`]: 'true' }))) continue;
          const missing = await found(r.type, { [`${name}:missing`]: 'true' });
          expect(
            missing.status === 200 && !missing.ids.includes(id),
            `:missing=true finds ${r.type}/${id}`,
            missing,
          );
          const present = await found(r.type, { [`${name}:missing`]: 'false' });
          expect(present.ids.includes(id), `:missing=false does not find ${r.type}/${id}`, present);
        } else if (modifier === 'not') {
          const not = await found(r.type, { [`${name}:not`]: value });
          expect(not.status === 200 && !not.ids.includes(id), `:not finds ${r.type}/${id}`, not);
        } else if (modifier === 'exact') {
          const exact = await found(r.type, { [`${name}:exact`]: value });
          expect(exact.ids.includes(id), `:exact with the whole value does not find ${r.type}/${id}`, exact);
        } else if (modifier === 'contains' && value.length > 2) {
          const part = value.slice(1, -1);
          const contains = await found(r.type, { [`${name}:contains`]: part });
          expect(contains.ids.includes(id), `:contains with a part does not find ${r.type}/${id}`, contains);
        }
      }
    }
  }
  return { problems, tried, parameters };
}
