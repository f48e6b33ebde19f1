Profile: SocialPrescribingConsent
Parent: Consent
Id: social-prescribing-consent
Title: "Consent to refer and share (social prescribing)"
Description: "The person's agreement to be referred and to have their information shared with the social prescribing service."
* status = #active
* patient 1..1 MS
* patient only Reference(Patient)
* dateTime 1..1 MS
