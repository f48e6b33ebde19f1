import type { Bundle, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { withNormalisedIdentifiers } from '../fhir/nhs-number.ts';
import type { Issue } from '../fhir/outcomes.ts';
import { bundleEnvelopeIssues } from '../fhir/shape.ts';
import { validateBaseR4 } from '../fhir/validate.ts';

/** Resource types a referral bundle may carry; anything else is refused with an issue. */
export const REFERRAL_ENTRY_TYPES = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'ServiceRequest',
  'Consent',
  'Condition',
  'QuestionnaireResponse',
] as const;

/** More than any referral needs (a GP referral holds about ten); bounds the work one request makes. */
export const MAX_ENTRIES = 100;

export type ReferralEntryType = (typeof REFERRAL_ENTRY_TYPES)[number];

/** One entry of the sender's bundle, with where it sits (for expressions and the response). */
export interface ReferralEntry<T extends Resource = Resource> {
  index: number;
  /** The `urn:uuid:` the sender gave it, if any. */
  fullUrl: string | undefined;
  resource: T;
  /** FHIRPath to the entry's resource in what the sender posted. */
  at: string;
}

/**
 * A referral Bundle read once: its entries, and the parts the referral's rules, identity matching
 * and write all need, with the request's `urn:uuid:` references already resolved to entries.
 * A part given by reference to (or identifier of) something stored is absent here; the identity
 * resolution finds it.
 */
export interface ReferralBundle {
  entries: ReferralEntry[];
  serviceRequest: ReferralEntry<ServiceRequest>;
  /** The entry `ServiceRequest.subject` names. */
  subject?: ReferralEntry;
  /** The entry `ServiceRequest.requester` names (a PractitionerRole, Practitioner or Organization). */
  requester?: ReferralEntry;
  /** The entry the requesting PractitionerRole's organization names. */
  requesterOrganisation?: ReferralEntry;
  /** The entry `ServiceRequest.performer[0]` names: the receiving service. */
  performer?: ReferralEntry;
  /** Entries by the `urn:uuid:` the sender gave them. */
  byUrn: ReadonlyMap<string, ReferralEntry>;
}

/** The referral as far as it could be read, and every structural problem found. */
export interface ReadResult {
  referral: ReferralBundle | undefined;
  issues: Issue[];
}

const isSupported = (type: string): type is ReferralEntryType =>
  (REFERRAL_ENTRY_TYPES as readonly string[]).includes(type);

/**
 * Checks the envelope and every entry of a referral transaction Bundle against base R4 and the
 * shape a referral needs (one ServiceRequest, at most one Patient, supported types only).
 * All problems are returned together.
 */
export function readReferralBundle(body: unknown): ReadResult {
  const bundle = body as Bundle;
  if (bundle?.resourceType !== 'Bundle') {
    return {
      referral: undefined,
      issues: [{ code: 'structure', diagnostics: 'Expected a Bundle', expression: ['Bundle'] }],
    };
  }
  if (bundle.type !== 'transaction') {
    return {
      referral: undefined,
      issues: [
        {
          code: 'not-supported',
          diagnostics: 'Only transaction Bundles are accepted',
          expression: ['Bundle.type'],
        },
      ],
    };
  }
  // The envelope's own shape first (fullUrl a string, entries objects, ...): what follows reads it.
  const envelope = bundleEnvelopeIssues(bundle);
  if (envelope.length) return { referral: undefined, issues: envelope };
  if ((bundle.entry?.length ?? 0) > MAX_ENTRIES) {
    return {
      referral: undefined,
      issues: [
        {
          code: 'too-costly',
          diagnostics: `A referral Bundle holds at most ${MAX_ENTRIES} entries`,
          expression: ['Bundle.entry'],
        },
      ],
    };
  }
  const issues: Issue[] = [];
  const entries: ReferralEntry[] = [];
  (bundle.entry ?? []).forEach((entry, index) => {
    const at = `Bundle.entry[${index}].resource`;
    const resource = entry.resource;
    if (!resource?.resourceType) {
      issues.push({
        code: 'required',
        diagnostics: 'Entry has no resource',
        expression: [`Bundle.entry[${index}]`],
      });
      return;
    }
    if (!isSupported(resource.resourceType)) {
      issues.push({
        code: 'not-supported',
        diagnostics: `${resource.resourceType} is not part of a social prescribing referral; accepted: ${REFERRAL_ENTRY_TYPES.join(', ')}`,
        expression: [`${at}.resourceType`],
      });
      return;
    }
    if (entry.request && entry.request.method !== 'POST') {
      issues.push({
        code: 'not-supported',
        diagnostics: 'Referral entries are created with POST',
        expression: [`Bundle.entry[${index}].request.method`],
      });
    }
    if (entry.fullUrl && !entry.fullUrl.startsWith('urn:uuid:')) {
      issues.push({
        code: 'not-supported',
        diagnostics: 'Entry fullUrl must be a urn:uuid',
        expression: [`Bundle.entry[${index}].fullUrl`],
      });
    }
    issues.push(...validateBaseR4(resource, at));
    entries.push({ index, fullUrl: entry.fullUrl, resource: withNormalisedIdentifiers(resource), at });
  });

  const serviceRequests = entries.filter((e) => e.resource.resourceType === 'ServiceRequest');
  const patients = entries.filter((e) => e.resource.resourceType === 'Patient');
  if (serviceRequests.length !== 1) {
    issues.push({
      code: serviceRequests.length === 0 ? 'required' : 'invariant',
      diagnostics: 'A referral Bundle carries exactly one ServiceRequest',
      expression: ['Bundle.entry'],
    });
  }
  if (patients.length > 1) {
    issues.push({
      code: 'invariant',
      diagnostics: 'A referral Bundle carries at most one Patient',
      expression: ['Bundle.entry'],
    });
  }
  const serviceRequest = serviceRequests[0] as ReferralEntry<ServiceRequest> | undefined;
  return { referral: serviceRequest ? resolveParts(entries, serviceRequest) : undefined, issues };
}

function resolveParts(
  entries: ReferralEntry[],
  serviceRequest: ReferralEntry<ServiceRequest>,
): ReferralBundle {
  const byUrn = new Map<string, ReferralEntry>();
  for (const entry of entries) if (entry.fullUrl?.startsWith('urn:uuid:')) byUrn.set(entry.fullUrl, entry);
  const at = (reference: string | undefined) => (reference ? byUrn.get(reference) : undefined);
  const sr = serviceRequest.resource;
  const requester = at(sr.requester?.reference);
  const requesterOrganisation =
    requester?.resource.resourceType === 'PractitionerRole'
      ? at(requester.resource.organization?.reference)
      : undefined;
  return {
    entries,
    serviceRequest,
    byUrn,
    ...optional('subject', at(sr.subject?.reference)),
    ...optional('requester', requester),
    ...optional('requesterOrganisation', requesterOrganisation),
    ...optional('performer', at(sr.performer?.[0]?.reference)),
  };
}

const optional = <K extends string, V>(key: K, value: V | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;

/** The bundle entry a `urn:uuid:` reference points at. */
export function entryFor(referral: ReferralBundle, reference: string | undefined): ReferralEntry | undefined {
  return reference ? referral.byUrn.get(reference) : undefined;
}
