import type { Bundle, Consent, Organization, Patient, ServiceRequest } from '@medplum/fhirtypes';
import { OWN_SYSTEM, REFERRAL_TO_SOCIAL_PRESCRIBING, SYSTEM } from '../fhir/systems.ts';
import type { ReferralJson } from '../schemas/referral-json.ts';
import { OPT_IN_PRIVACY_CONSENT } from './consent-codes.ts';

/** Where each part of the JSON lands in the Bundle, so FHIR issues can be reported as JSON paths. */
export const JSON_ENTRY_ROOTS = ['patient', 'referrer.organisation', 'consent', ''] as const;

/**
 * The identifier system of a plain-JSON referral sent without its own: one per referring
 * organisation, so that two organisations' `WEB-1` are two referrals.
 */
export function jsonReferralSystem(odsCode: string | undefined): string {
  return odsCode ? `${OWN_SYSTEM.jsonReferral}/${encodeURIComponent(odsCode)}` : OWN_SYSTEM.jsonReferral;
}

/**
 * Maps the plain JSON referral onto the same transaction Bundle a GP system would send:
 * Patient, the referrer's Organization, Consent and ServiceRequest.
 */
export function referralJsonToBundle(json: ReferralJson, now: Date, newId: () => string): Bundle {
  const urn = () => `urn:uuid:${newId()}`;
  const [patientUrn, orgUrn, consentUrn, srUrn] = [urn(), urn(), urn(), urn()];
  const p = json.patient;
  const patient: Patient = {
    resourceType: 'Patient',
    identifier: [{ system: SYSTEM.nhsNumber, value: p.nhsNumber }],
    name: [{ family: p.familyName, ...(p.givenName ? { given: [p.givenName] } : {}) }],
    ...(p.birthDate ? { birthDate: p.birthDate } : {}),
    ...(p.gender ? { gender: p.gender } : {}),
    ...(p.phone || p.email
      ? {
          telecom: [
            ...(p.phone ? [{ system: 'phone' as const, value: p.phone }] : []),
            ...(p.email ? [{ system: 'email' as const, value: p.email }] : []),
          ],
        }
      : {}),
    ...(p.address
      ? {
          address: [
            {
              line: p.address.lines,
              ...(p.address.city ? { city: p.address.city } : {}),
              ...(p.address.postcode ? { postalCode: p.address.postcode } : {}),
            },
          ],
        }
      : {}),
  };
  const organisation = json.referrer.organisation;
  const referrerOrg: Organization = {
    resourceType: 'Organization',
    ...(organisation.odsCode
      ? { identifier: [{ system: SYSTEM.odsOrganization, value: organisation.odsCode }] }
      : {}),
    name: organisation.name,
  };
  const consent: Consent = {
    resourceType: 'Consent',
    status: 'active',
    ...OPT_IN_PRIVACY_CONSENT,
    patient: { reference: patientUrn },
    dateTime: json.consent.date,
    organization: [{ reference: orgUrn }],
    provision: { type: 'permit' },
  };
  const serviceRequest: ServiceRequest = {
    resourceType: 'ServiceRequest',
    identifier: [
      { system: json.senderSystem ?? jsonReferralSystem(organisation.odsCode), value: json.referralId },
    ],
    status: 'active',
    intent: 'order',
    ...(json.priority ? { priority: json.priority } : {}),
    code: { coding: [{ ...REFERRAL_TO_SOCIAL_PRESCRIBING }] },
    subject: { reference: patientUrn },
    authoredOn: json.authoredOn ?? now.toISOString(),
    requester: {
      reference: orgUrn,
      display: json.referrer.role ? `${json.referrer.name} (${json.referrer.role})` : json.referrer.name,
    },
    performer: [{ identifier: { system: SYSTEM.odsOrganization, value: json.receivingServiceOdsCode } }],
    reasonCode: json.reasons.map((r) => ({
      ...(r.snomedCode ? { coding: [{ system: SYSTEM.snomed, code: r.snomedCode }] } : {}),
      ...(r.text ? { text: r.text } : {}),
    })),
    supportingInfo: [{ reference: consentUrn }],
    ...(json.notes ? { note: [{ text: json.notes }] } : {}),
  };
  const entries = [
    [patientUrn, patient],
    [orgUrn, referrerOrg],
    [consentUrn, consent],
    [srUrn, serviceRequest],
  ] as const;
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: entries.map(([fullUrl, resource]) => ({
      fullUrl,
      resource,
      request: { method: 'POST', url: resource.resourceType },
    })),
  };
}
