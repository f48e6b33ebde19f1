/** Identifier and code systems the service reads and writes (sources in ../shared/DOMAIN.md §2). */
export const SYSTEM = {
  nhsNumber: 'https://fhir.nhs.uk/Id/nhs-number',
  odsOrganization: 'https://fhir.nhs.uk/Id/ods-organization-code',
  /** The guide text's spelling; accepted on input, never written. */
  odsOrganisationAlt: 'https://fhir.nhs.uk/Id/ods-organisation-code',
  sdsUser: 'https://fhir.nhs.uk/Id/sds-user-id',
  sdsRoleProfile: 'https://fhir.nhs.uk/Id/sds-role-profile-id',
  gmc: 'https://fhir.hl7.org.uk/Id/gmc-number',
  gmp: 'https://fhir.hl7.org.uk/Id/gmp-number',
  nmc: 'https://fhir.hl7.org.uk/Id/nmc-number',
  hcpc: 'https://fhir.hl7.org.uk/Id/hcpc-number',
  snomed: 'http://snomed.info/sct',
  taskCode: 'http://hl7.org/fhir/CodeSystem/task-code',
} as const;

/** Base of the canonical URLs this service owns (code systems, identifiers, profiles). */
export const CANONICAL_BASE = 'https://fhir.social-prescribing.example.org';

export const OWN_SYSTEM = {
  /**
   * Tags each resource a referral's intake creates with its part (`<referral key>/<part>`): every
   * create is conditional on it, so a write repeated after an unclear outcome completes the
   * referral and never duplicates a part of it.
   */
  referralPart: `${CANONICAL_BASE}/CodeSystem/referral-part`,
  /** Content fingerprint of an accepted referral, for telling a retry from a conflicting duplicate. */
  referralFingerprint: `${CANONICAL_BASE}/CodeSystem/referral-fingerprint`,
  /** Identifies the inbound request behind a Provenance. */
  requestId: `${CANONICAL_BASE}/Id/request-id`,
  /** Identifies referrals that arrived through the plain JSON endpoint without a sender system. */
  jsonReferral: `${CANONICAL_BASE}/Id/referral`,
  /**
   * `meta.security` label naming, by ODS code, an organisation that may see the resource (the
   * referrer and the receiving service). Internal: never shown to callers or searchable by them.
   */
  organisationAccess: `${CANONICAL_BASE}/CodeSystem/organisation-access`,
  /**
   * `meta.security` label naming, by ODS code, the organisation whose record of a person a Patient
   * is: each organisation keeps its own. Internal, as the access labels are.
   */
  recordOwner: `${CANONICAL_BASE}/CodeSystem/record-owner`,
  /**
   * `meta.security` label naming, by ODS code, an organisation of the person's care team that may
   * read this part of a care plan because the person consented to share it with the team; its
   * `display` names that Consent (`Consent/<id>`). Set and removed only by the service as the
   * consent and the team change (src/care-plans/team-sharing.ts). Internal, as the others are.
   */
  careTeamAccess: `${CANONICAL_BASE}/CodeSystem/care-team-access`,
  /**
   * Tags each AuditEvent the outbox delivers with a code made once per request: its write is
   * conditional on the tag, so a record delivered twice is stored once.
   */
  auditRecord: `${CANONICAL_BASE}/CodeSystem/audit-record`,
  /**
   * Tags a stored Subscription with its state (requested, active, error, off): the store keeps it
   * `off`, so that Medplum never runs it itself (src/subscriptions/subscription-rules.ts).
   */
  subscriptionState: `${CANONICAL_BASE}/CodeSystem/subscription-state`,
  /** Identifies one notification (the same on every attempt to deliver it). */
  notification: `${CANONICAL_BASE}/Id/notification`,
  /** A topic-based subscription's count of events, and the notification that made the last one. */
  subscriptionEvents: `${CANONICAL_BASE}/StructureDefinition/subscription-events`,
  /** Identifies the API client (its client id) in AuditEvents. */
  client: `${CANONICAL_BASE}/Id/client`,
  /** CarePlan.category of the plans this service keeps. */
  carePlanCategory: `${CANONICAL_BASE}/CodeSystem/care-plan-category`,
  /** Kinds of Task.output this service writes (`national-code`: a code for the GP record). */
  taskOutput: `${CANONICAL_BASE}/CodeSystem/task-output`,
} as const;

/** SNOMED CT 871731000000106 |Referral to social prescribing service| (DOMAIN.md §1.1, verified). */
export const REFERRAL_TO_SOCIAL_PRESCRIBING = {
  system: SYSTEM.snomed,
  code: '871731000000106',
  display: 'Referral to social prescribing service',
} as const;

/** SNOMED CT 871711000000103 |Social prescribing declined| (DOMAIN.md section 1.1, verified). */
export const SOCIAL_PRESCRIBING_DECLINED = {
  system: SYSTEM.snomed,
  code: '871711000000103',
  display: 'Social prescribing declined',
} as const;

/** Identifier systems by which a Practitioner is matched. */
export const PRACTITIONER_ID_SYSTEMS: readonly string[] = [
  SYSTEM.sdsUser,
  SYSTEM.gmc,
  SYSTEM.gmp,
  SYSTEM.nmc,
  SYSTEM.hcpc,
];
export const ODS_SYSTEMS: readonly string[] = [SYSTEM.odsOrganization, SYSTEM.odsOrganisationAlt];

/**
 * Identifier and code systems of the community service directory imported from Open Referral UK
 * (ORUK) feeds. ORUK ids are the publisher's own, so each kind of record has its own system here.
 * England and Wales charity numbers, Companies House numbers and UPRNs have no official FHIR
 * identifier system that we know of (UK Core carries a UPRN only as an address-key extension), so
 * ours stand in for them under CANONICAL_BASE; swap them for official URIs if any are published.
 */
export const DIRECTORY_SYSTEM = {
  orukService: `${CANONICAL_BASE}/Id/open-referral-service`,
  orukOrganization: `${CANONICAL_BASE}/Id/open-referral-organization`,
  orukLocation: `${CANONICAL_BASE}/Id/open-referral-location`,
  /** Register of charities in England and Wales (org-id.guide scheme GB-CHC). */
  charityNumber: `${CANONICAL_BASE}/Id/charity-number`,
  /** Companies House register of companies (org-id.guide scheme GB-COH). */
  companyNumber: `${CANONICAL_BASE}/Id/company-number`,
  /** Unique Property Reference Number of a location (OS AddressBase). */
  uprn: `${CANONICAL_BASE}/Id/uprn`,
  /** Base of the code systems made for ORUK taxonomies that publish no URI (`/<vocabulary>` added). */
  openReferralTaxonomy: `${CANONICAL_BASE}/CodeSystem/open-referral-taxonomy`,
} as const;
