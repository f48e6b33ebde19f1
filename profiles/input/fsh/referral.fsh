Profile: SocialPrescribingReferral
Parent: ServiceRequest
Id: social-prescribing-referral
Title: "Social prescribing referral"
Description: "A referral to a social prescribing service (SNOMED CT 871731000000106): who, by whom, to which service, why, with the person's consent. The sender's identifier is the idempotency key: the same referral sent again creates nothing."
* identifier 1..* MS
* identifier.system 1..1
* identifier.value 1..1
* intent = #order
* code 1..1 MS
* code = $SCT#871731000000106
* subject 1..1 MS
* subject only Reference(Patient)
* requester 1..1 MS
* requester only Reference(Practitioner or PractitionerRole or Organization)
* performer 1..* MS
* performer only Reference(Organization or HealthcareService)
* reasonCode 1..* MS
* reasonCode from $REASONS (extensible)
* authoredOn 1..1 MS
* supportingInfo MS
* supportingInfo ^short = "The person's consent (Consent), and any baseline questionnaire"
* supportingInfo ^comment = "The Consent may instead be sent as an entry of the same transaction Bundle; the stored referral always references it."
