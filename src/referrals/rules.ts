import type { Consent, Identifier, Patient, Reference } from '@medplum/fhirtypes';
import { isInFuture } from '../fhir/dates.ts';
import { isValidNhsNumber } from '../fhir/nhs-number.ts';
import type { Issue } from '../fhir/outcomes.ts';
import { profileErrors } from '../fhir/profiles.ts';
import { REFERRAL_TO_SOCIAL_PRESCRIBING, SYSTEM } from '../fhir/systems.ts';
import { isReferralReason } from '../fhir/terminology.ts';
import { entryFor, type ReferralBundle } from './referral-bundle.ts';

/** Clock skew tolerated before an authoredOn counts as "in the future". */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

const rule = (diagnostics: string, expression: string, code: Issue['code'] = 'business-rule'): Issue => ({
  code,
  diagnostics,
  expression: [expression],
});

/**
 * The business rules a social prescribing referral must meet before anything is stored, checked
 * without I/O. Every broken rule is returned, each pointing at the element concerned.
 */
export function checkReferralRules(referral: ReferralBundle, now: Date): Issue[] {
  const { resource: sr, at } = referral.serviceRequest;
  const issues: Issue[] = [];

  if (!sr.identifier?.some((i) => i.system && i.value)) {
    issues.push(
      rule("The sender's referral identifier (system and value) is required", `${at}.identifier`, 'required'),
    );
  }
  if (sr.status !== 'active') issues.push(rule('A new referral has status active', `${at}.status`, 'value'));
  if (sr.intent !== 'order') issues.push(rule('A referral has intent order', `${at}.intent`, 'value'));
  const isSocialPrescribing = sr.code?.coding?.some(
    (c) =>
      c.system === REFERRAL_TO_SOCIAL_PRESCRIBING.system && c.code === REFERRAL_TO_SOCIAL_PRESCRIBING.code,
  );
  if (!isSocialPrescribing) {
    issues.push(
      rule(
        `code must include SNOMED CT ${REFERRAL_TO_SOCIAL_PRESCRIBING.code} (referral to social prescribing service)`,
        `${at}.code`,
        'value',
      ),
    );
  }
  issues.push(...checkReasons(referral));
  issues.push(...checkAuthoredOn(sr.authoredOn, at, now));
  issues.push(...checkSubject(referral));
  if (!sr.requester) issues.push(rule('The referrer (requester) is required', `${at}.requester`, 'required'));
  if (!sr.performer?.length) {
    issues.push(
      rule('The receiving social prescribing service (performer) is required', `${at}.performer`, 'required'),
    );
  }
  issues.push(...checkConsent(referral));
  issues.push(...checkLocalReferences(referral));
  issues.push(...profileIssues(referral, issues));
  return issues;
}

function checkReasons(referral: ReferralBundle): Issue[] {
  const { resource: sr, at } = referral.serviceRequest;
  if (!sr.reasonCode?.length && !sr.reasonReference?.length) {
    return [rule('At least one reason for referral is required', `${at}.reasonCode`, 'required')];
  }
  const issues: Issue[] = [];
  sr.reasonCode?.forEach((reason, i) => {
    reason.coding?.forEach((coding, j) => {
      if (!isReferralReason(coding)) {
        issues.push(
          rule(
            'Reason code is not in the social prescribing referral reasons value set',
            `${at}.reasonCode[${i}].coding[${j}]`,
            'code-invalid',
          ),
        );
      }
    });
  });
  return issues;
}

function checkAuthoredOn(authoredOn: string | undefined, at: string, now: Date): Issue[] {
  if (!authoredOn)
    return [rule('authoredOn (when the referral was made) is required', `${at}.authoredOn`, 'required')];
  if (isInFuture(authoredOn, now, FUTURE_TOLERANCE_MS)) {
    return [rule('authoredOn is in the future', `${at}.authoredOn`, 'value')];
  }
  return [];
}

function checkSubject(referral: ReferralBundle): Issue[] {
  const { resource: sr, at } = referral.serviceRequest;
  const subject = sr.subject as Reference | undefined;
  if (!subject) return [];
  if (subject.reference?.startsWith('urn:uuid:')) {
    const target = referral.subject;
    if (target?.resource.resourceType !== 'Patient') {
      return [rule('subject must reference the Patient in this Bundle', `${at}.subject`, 'invalid')];
    }
    return checkNhsNumber((target.resource as Patient).identifier, target.at);
  }
  if (subject.identifier) {
    if (subject.identifier.system !== SYSTEM.nhsNumber) {
      return [
        rule(
          'A subject given by identifier must use the NHS number',
          `${at}.subject.identifier.system`,
          'value',
        ),
      ];
    }
    return isValidNhsNumber(subject.identifier.value ?? '')
      ? []
      : [rule('NHS number fails the Modulus 11 check', `${at}.subject.identifier.value`, 'value')];
  }
  if (!subject.reference?.startsWith('Patient/')) {
    return [rule('subject must be a Patient', `${at}.subject`, 'invalid')];
  }
  return [];
}

function checkNhsNumber(identifiers: Identifier[] | undefined, at: string): Issue[] {
  const index = identifiers?.findIndex((i) => i.system === SYSTEM.nhsNumber) ?? -1;
  if (index < 0) {
    return [
      rule(`The Patient's NHS number (${SYSTEM.nhsNumber}) is required`, `${at}.identifier`, 'required'),
    ];
  }
  const value = identifiers?.[index]?.value ?? '';
  return isValidNhsNumber(value)
    ? []
    : [rule('NHS number fails the Modulus 11 check', `${at}.identifier[${index}].value`, 'value')];
}

function checkConsent(referral: ReferralBundle): Issue[] {
  const { resource: sr, at } = referral.serviceRequest;
  const referencesStoredConsent = sr.supportingInfo?.some((r) => r.reference?.startsWith('Consent/'));
  const consents = referral.entries.filter((e) => e.resource.resourceType === 'Consent');
  if (consents.length === 0 && !referencesStoredConsent) {
    return [
      rule(
        'Consent to refer and share information must be recorded (a Consent)',
        `${at}.supportingInfo`,
        'required',
      ),
    ];
  }
  return consents.flatMap(({ resource, at: consentAt }) => {
    const consent = resource as Consent;
    const issues: Issue[] = [];
    if (consent.status !== 'active')
      issues.push(rule('Consent must be active', `${consentAt}.status`, 'value'));
    if (consent.provision?.type === 'deny') {
      issues.push(
        rule('Consent denies sharing; the referral cannot be made', `${consentAt}.provision.type`, 'value'),
      );
    }
    if (!samePatient(consent.patient, sr.subject)) {
      issues.push(rule('Consent must be for the referred Patient', `${consentAt}.patient`, 'invalid'));
    }
    return issues;
  });
}

function samePatient(a: Reference | undefined, b: Reference | undefined): boolean {
  if (a?.reference || b?.reference) return a?.reference === b?.reference;
  return (
    Boolean(a?.identifier?.value) &&
    a?.identifier?.system === b?.identifier?.system &&
    a?.identifier?.value === b?.identifier?.value
  );
}

/** Every `urn:uuid:` reference must point at an entry of the same Bundle. */
function checkLocalReferences(referral: ReferralBundle): Issue[] {
  const issues: Issue[] = [];
  for (const entry of referral.entries) {
    forEachReference(entry.resource, (ref, path) => {
      if (ref.reference?.startsWith('urn:uuid:') && !entryFor(referral, ref.reference)) {
        issues.push(
          rule('Reference to an entry that is not in this Bundle', `${entry.at}${path}`, 'not-found'),
        );
      }
    });
  }
  return issues;
}

/**
 * Visits every Reference in a resource, literal (`reference`) or logical (a single `identifier`),
 * with its FHIRPath-like location. Resources themselves are never taken for references, even
 * those with a single identifier (QuestionnaireResponse).
 */
export function forEachReference(
  value: unknown,
  visit: (ref: Reference, path: string) => void,
  path = '',
): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      forEachReference(item, visit, `${path}[${i}]`);
    });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const object = value as Record<string, unknown>;
  const logical =
    object.resourceType === undefined &&
    object.identifier !== null &&
    typeof object.identifier === 'object' &&
    !Array.isArray(object.identifier);
  if (typeof object.reference === 'string' || logical) visit(object as Reference, path);
  for (const [key, child] of Object.entries(object)) {
    if (key !== 'reference' && typeof child === 'object') forEachReference(child, visit, `${path}.${key}`);
  }
}

/**
 * The referral's entries against their profiles: what the rules above did not already say about
 * the same element. Base-R4 errors were reported when the Bundle was read, and the NHS number's
 * check digit by the rules.
 */
function profileIssues(referral: ReferralBundle, ruleIssues: readonly Issue[]): Issue[] {
  const issues: Issue[] = [];
  for (const entry of referral.entries) {
    issues.push(
      ...profileErrors(entry.resource, [...ruleIssues, ...issues], { at: entry.at, nhsNumber: false }),
    );
  }
  return issues;
}
