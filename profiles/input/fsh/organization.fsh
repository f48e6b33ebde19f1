Profile: SocialPrescribingOrganization
Parent: Organization
Id: social-prescribing-organization
Title: "Organization (social prescribing)"
Description: "A referring practice, a social prescribing service or a community organisation: named, and identified by ODS code when it has one."
* name 1..1 MS
* identifier MS
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier ^slicing.description = "By system"
* identifier contains odsCode 0..1 MS
* identifier[odsCode].system 1..1
* identifier[odsCode].system = $ODS (exactly)
* identifier[odsCode].value 1..1
