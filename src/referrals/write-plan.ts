import type {
  BundleEntry,
  Patient,
  Provenance,
  Reference,
  Resource,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { hasAccess, ownedBy, withAccess, withOwner } from '../auth/tenancy.ts';
import { OWN_SYSTEM } from '../fhir/systems.ts';
import { mergePatient } from '../mapping/merge-patient.ts';
import { toProvenance } from '../mapping/to-provenance.ts';
import { toReferralTask } from '../mapping/to-task.ts';
import { matchIdentifier, type Resolution } from './identities.ts';
import type { ReferralBundle } from './referral-bundle.ts';
import { forEachReference } from './rules.ts';

export interface WritePlanInput {
  referral: ReferralBundle;
  resolution: Resolution;
  fingerprint: string;
  /** The referral's identity (its sender's organisation and identifier), hashed: names its parts. */
  referralKey: string;
  requestId: string;
  /** ODS codes of the organisations that may see what is written (referrer, receiving service). */
  access: readonly string[];
  /** The receiving service's ODS code, when it has one: it always gains sight of the person. */
  receiver: string | undefined;
  /** The organisation whose record of the person this referral writes: the sender's. */
  owner: string;
  now: Date;
  newId: () => string;
}

/** How each sender entry ends up: written by the plan (as its entry `fullUrl`) or matched as is. */
export type EntryOutcome =
  | { kind: 'create'; fullUrl: string }
  | { kind: 'update'; fullUrl: string; stored: Resource }
  | { kind: 'matched'; stored: Resource };

export interface WritePlan {
  /**
   * Every write, each named by a `fullUrl`. Every create is conditional (`ifNoneExist`) on the
   * identifier a person or organisation is matched by, or on the part's tag, so the whole plan
   * can be written again after an unclear outcome and only what is missing is created.
   */
  entries: BundleEntry[];
  /** One per sender entry, in the sender's order. */
  outcomes: EntryOutcome[];
  taskFullUrl: string;
  /**
   * The creates another referral may make at the same time (people and organisations, matched on
   * an identifier), by `fullUrl`: each must be stored, and its id known, before an entry names it.
   */
  sharedCreates: ReadonlySet<string>;
}

/**
 * Turns a checked and resolved referral into the writes that store it: new resources are created
 * conditionally (each tagged with its part of this referral), stored people and organisations
 * are referenced rather than duplicated, a stored Patient only gains missing demographics, and a
 * tracking Task and a Provenance are added.
 */
export function planReferralWrite(input: WritePlanInput): WritePlan {
  const { referral, resolution, now } = input;
  // Parts are named by the referral and its content: a retry of the same referral completes its
  // parts; a corrected one (same identifier, other content) never takes up a stale attempt's.
  const part = (name: string) => ({
    system: OWN_SYSTEM.referralPart,
    code: `${input.referralKey}/${input.fingerprint.slice(0, 16)}/${name}`,
  });
  const urns = new Map<number, string>();
  const rewrite = new Map<string, string>();
  for (const entry of referral.entries) {
    const stored = resolution.matched.get(entry.index);
    const urn = entry.fullUrl ?? `urn:uuid:${input.newId()}`;
    urns.set(entry.index, urn);
    if (stored && entry.fullUrl) rewrite.set(entry.fullUrl, `${stored.resourceType}/${stored.id}`);
  }
  const refOf = (index: number): Reference => {
    const stored = resolution.matched.get(index);
    return { reference: stored ? `${stored.resourceType}/${stored.id}` : (urns.get(index) as string) };
  };

  const posts: BundleEntry[] = [];
  const puts: BundleEntry[] = [];
  const pending: EntryOutcome[] = [];
  const sharedCreates = new Set<string>();

  const logical = logicalTargets(referral, resolution);
  for (const entry of referral.entries) {
    const resource = withLocalReferences(entry.resource, rewrite, logical);
    const stored = resolution.matched.get(entry.index);
    if (stored?.resourceType === 'Patient') {
      // The sender's own record: it gains what it lacks and the receiving service's sight of it.
      const merge = mergePatient(stored as Patient, resource as Patient);
      if (merge.updated || !hasAccess(stored, input.access)) {
        puts.push({
          fullUrl: `urn:uuid:${input.newId()}`,
          resource: withAccess(merge.updated ?? (stored as Patient), input.access),
          request: { method: 'PUT', url: `Patient/${stored.id}`, ifMatch: `W/"${stored.meta?.versionId}"` },
        });
        pending.push({ kind: 'update', fullUrl: puts.at(-1)?.fullUrl as string, stored });
        continue;
      }
    }
    if (stored) {
      pending.push({ kind: 'matched', stored });
      continue;
    }
    const prepared =
      entry === referral.serviceRequest
        ? completeServiceRequest(resource as ServiceRequest, input)
        : resource;
    const tag = part(`entry-${entry.index}`);
    const created = withAccess(stripForCreate(prepared, tag), input.access);
    const person = created.resourceType === 'Patient';
    posts.push({
      fullUrl: urns.get(entry.index),
      resource: person ? withOwner(created, input.owner) : created,
      request: {
        method: 'POST',
        url: resource.resourceType,
        ifNoneExist: matchQuery(prepared, tag, person ? input.owner : undefined),
      },
    });
    pending.push({ kind: 'create', fullUrl: urns.get(entry.index) as string });
    if (matchIdentifier(prepared)) sharedCreates.add(urns.get(entry.index) as string);
  }

  // A person named rather than sent: the receiving service must be able to reach them.
  const named = resolution.resolved.get('subject');
  if (
    !referral.subject &&
    named?.resourceType === 'Patient' &&
    input.receiver &&
    !hasAccess(named, [input.receiver])
  ) {
    puts.push({
      fullUrl: `urn:uuid:${input.newId()}`,
      resource: withAccess(named, [input.receiver]),
      request: { method: 'PUT', url: `Patient/${named.id}`, ifMatch: `W/"${named.meta?.versionId}"` },
    });
  }

  const sr = referral.serviceRequest;
  const requester = sr.resource.requester as Reference;
  const taskUrn = `urn:uuid:${input.newId()}`;
  const task = toReferralTask({
    serviceRequest: refOf(sr.index),
    patient: subjectRef(referral, resolution, refOf),
    requester: rewriteRef(requester, rewrite, resolution.resolved.get('requester')) as NonNullable<
      Task['requester']
    >,
    owner: resolution.receivingOrganization as NonNullable<Task['owner']>,
    authoredOn: now.toISOString(),
  });
  const taskTag = part('task');
  posts.push({
    fullUrl: taskUrn,
    resource: withAccess(stripForCreate(task, taskTag), input.access),
    request: { method: 'POST', url: 'Task', ifNoneExist: tagQuery(taskTag) },
  });
  const provenance = toProvenance({
    targets: [...referral.entries.map((e) => refOf(e.index)), { reference: taskUrn }],
    recorded: now.toISOString(),
    agent: rewriteRef(
      requester,
      rewrite,
      resolution.resolved.get('requester'),
    ) as Provenance['agent'][number]['who'],
    requestId: input.requestId,
    activity: 'CREATE',
  });
  const provenanceTag = part('provenance');
  posts.push({
    fullUrl: `urn:uuid:${input.newId()}`,
    resource: withAccess(stripForCreate(provenance, provenanceTag), input.access),
    request: { method: 'POST', url: 'Provenance', ifNoneExist: tagQuery(provenanceTag) },
  });
  return { entries: [...puts, ...posts], outcomes: pending, taskFullUrl: taskUrn, sharedCreates };
}

const tagQuery = (tag: { system: string; code: string }): string =>
  `_tag=${encodeURIComponent(`${tag.system}|${tag.code}`)}`;

/**
 * What a create is conditional on: a person (among the owner's records) or an organisation on the
 * identifier it is matched by (so that two referrals of one new person from one sender make one
 * Patient, whatever process writes them), any other part on its tag.
 */
function matchQuery(resource: Resource, tag: { system: string; code: string }, owner?: string): string {
  const identifier = matchIdentifier(resource);
  if (!identifier) return tagQuery(tag);
  const byIdentifier = `identifier=${encodeURIComponent(`${identifier.system}|${identifier.value}`)}`;
  return owner === undefined
    ? byIdentifier
    : `${byIdentifier}&_security=${encodeURIComponent(ownedBy(owner))}`;
}

/** The stored ServiceRequest: resolved references, the consent linked, the fingerprint recorded. */
function completeServiceRequest(sr: ServiceRequest, input: WritePlanInput): ServiceRequest {
  const { referral, resolution } = input;
  const consentRefs = referral.entries
    .filter(
      (e) => e.resource.resourceType === 'Consent' || e.resource.resourceType === 'QuestionnaireResponse',
    )
    .map((e) => e.fullUrl)
    .filter((urn): urn is string => Boolean(urn) && !sr.supportingInfo?.some((r) => r.reference === urn))
    .map((reference) => ({ reference }));
  const resolvedRef = <R extends Reference>(path: string, ref: R | undefined): R | undefined => {
    const stored = resolution.resolved.get(path);
    return stored && ref ? ({ ...ref, reference: `${stored.resourceType}/${stored.id}` } as R) : ref;
  };
  const performer = sr.performer?.map((p, i) => resolvedRef(`performer[${i}]`, p) as typeof p);
  return {
    ...sr,
    subject: resolvedRef('subject', sr.subject) as ServiceRequest['subject'],
    ...(sr.requester
      ? { requester: resolvedRef('requester', sr.requester) as ServiceRequest['requester'] }
      : {}),
    ...(performer ? { performer } : {}),
    ...(sr.supportingInfo || consentRefs.length
      ? {
          supportingInfo: [
            ...(sr.supportingInfo ?? []).map((r, i) => resolvedRef(`supportingInfo[${i}]`, r) as Reference),
            ...consentRefs,
          ],
        }
      : {}),
    meta: {
      ...sr.meta,
      tag: [...(sr.meta?.tag ?? []), { system: OWN_SYSTEM.referralFingerprint, code: input.fingerprint }],
    },
  };
}

function subjectRef(
  referral: ReferralBundle,
  resolution: Resolution,
  refOf: (i: number) => Reference,
): Reference {
  const subject = referral.serviceRequest.resource.subject;
  if (referral.subject) return refOf(referral.subject.index);
  const stored = resolution.resolved.get('subject');
  return stored ? { reference: `Patient/${stored.id}` } : subject;
}

function rewriteRef(ref: Reference, rewrite: Map<string, string>, stored: Resource | undefined): Reference {
  if (stored) return { reference: `${stored.resourceType}/${stored.id}` };
  const target = ref.reference ? rewrite.get(ref.reference) : undefined;
  return target
    ? { reference: target }
    : { reference: ref.reference, ...(ref.identifier ? { identifier: ref.identifier } : {}) };
}

/** Stored targets of the referral's identifier-only references (subject, requester, performer). */
function logicalTargets(referral: ReferralBundle, resolution: Resolution): Map<string, string> {
  const targets = new Map<string, string>();
  const sr = referral.serviceRequest.resource;
  const refs: [string, Reference | undefined][] = [
    ['subject', sr.subject],
    ['requester', sr.requester],
    ['performer[0]', sr.performer?.[0]],
  ];
  for (const [path, ref] of refs) {
    const stored = resolution.resolved.get(path);
    if (stored && ref?.identifier)
      targets.set(identifierKey(ref.identifier), `${stored.resourceType}/${stored.id}`);
  }
  return targets;
}

const identifierKey = (identifier: { system?: string; value?: string }): string =>
  `${identifier.system}|${identifier.value}`;

/**
 * A copy with references to matched entries pointing at the stored resources, and identifier-only
 * references to resolved resources given their literal reference too.
 */
function withLocalReferences<T extends Resource>(
  resource: T,
  rewrite: Map<string, string>,
  logical: Map<string, string>,
): T {
  const copy = structuredClone(resource);
  forEachReference(copy, (ref) => {
    const target = ref.reference
      ? rewrite.get(ref.reference)
      : ref.identifier
        ? logical.get(identifierKey(ref.identifier))
        : undefined;
    if (target) ref.reference = target;
  });
  return copy;
}

/**
 * Drops the sender's id and server-owned meta; keeps profiles, labels and tags, adds the batch
 * tag. Organisation access labels are the service's to set, never the sender's.
 */
function stripForCreate<T extends Resource>(resource: T, partTag: { system: string; code: string }): T {
  const { id: _id, meta, ...rest } = resource;
  const security = meta?.security?.filter(
    (c) =>
      c.system !== OWN_SYSTEM.organisationAccess &&
      c.system !== OWN_SYSTEM.recordOwner &&
      c.system !== OWN_SYSTEM.careTeamAccess,
  );
  return {
    ...rest,
    meta: {
      ...(meta?.profile ? { profile: meta.profile } : {}),
      ...(security?.length ? { security } : {}),
      tag: [...(meta?.tag ?? []).filter((t) => t.system !== OWN_SYSTEM.referralPart), partTag],
    },
  } as T;
}
