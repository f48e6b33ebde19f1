Profile: SocialPrescribingPatient
Parent: Patient
Id: social-prescribing-patient
Title: "Patient (social prescribing)"
Description: "The person referred, as the service needs them: identified by NHS number. The service also checks the number's Modulus 11 check digit, which an invariant cannot do well."
* identifier 1..* MS
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier ^slicing.description = "By system"
* identifier contains nhsNumber 1..1 MS
* identifier[nhsNumber].system 1..1
* identifier[nhsNumber].system = $NHS (exactly)
* identifier[nhsNumber].value 1..1
* identifier[nhsNumber].value obeys sp-nhs-1
* name MS
* birthDate MS

Invariant: sp-nhs-1
Description: "An NHS number is ten digits"
Expression: "matches('^[0-9]{10}$')"
Severity: #error
