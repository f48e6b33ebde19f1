import type { Consent } from '@medplum/fhirtypes';

/**
 * What every consent this service records says of its kind: a privacy consent (HL7 consent scope),
 * a patient consent (LOINC 59284-0), given by opting in. Used for the consent to refer taken from a
 * plain-JSON referral and for the consent to share a care plan with the care team.
 */
export const OPT_IN_PRIVACY_CONSENT: Pick<Consent, 'scope' | 'category' | 'policyRule'> = {
  scope: {
    coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }],
  },
  category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
  policyRule: {
    coding: [
      { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN', display: 'opt-in' },
    ],
  },
};
