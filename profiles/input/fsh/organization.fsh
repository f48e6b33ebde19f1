Profile: SocialPrescribingOrganization
Parent: Organization
Id: social-prescribing-organization
Title: "Organization (social prescribing)"
Description: "A referring practice, a social prescribing service or a community organisation: named, and identified by ODS code, charity number, company number or Open Referral id when it has one (the directory requires one of them)."
* name 1..1 MS
* identifier MS
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier ^slicing.description = "By system"
* identifier contains odsCode 0..1 MS and charityNumber 0..1 MS and companyNumber 0..1 MS and openReferralId 0..1 MS
* identifier[odsCode].system 1..1
* identifier[odsCode].system = $ODS (exactly)
* identifier[odsCode].value 1..1
* identifier[charityNumber].system 1..1
* identifier[charityNumber].system = $CHARITY (exactly)
* identifier[charityNumber].value 1..1
* identifier[charityNumber] ^short = "Charity Commission (England and Wales), OSCR or CCNI registration number"
* identifier[companyNumber].system 1..1
* identifier[companyNumber].system = $COMPANY (exactly)
* identifier[companyNumber].value 1..1
* identifier[companyNumber] ^short = "Companies House number"
* identifier[openReferralId].system 1..1
* identifier[openReferralId].system = $ORUKORG (exactly)
* identifier[openReferralId].value 1..1
* identifier[openReferralId] ^short = "The organisation's id in the Open Referral UK feed it was imported from"
