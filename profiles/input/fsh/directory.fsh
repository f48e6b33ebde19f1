Profile: SocialPrescribingHealthcareService
Parent: HealthcareService
Id: social-prescribing-healthcare-service
Title: "Community service (social prescribing directory)"
Description: "A service people can be referred or connected to: a social prescribing service receiving referrals, or a community activity a care plan names. Named, provided by an organisation, with categories from the social prescribing activity categories."
* active 1..1 MS
* name 1..1 MS
* providedBy 1..1 MS
* providedBy only Reference(Organization)
* category MS
* category from $ACTIVITY (required)
* location MS
* location only Reference(Location)
* identifier MS
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier ^slicing.description = "By system"
* identifier contains openReferralId 0..1 MS
* identifier[openReferralId].system 1..1
* identifier[openReferralId].system = $ORUKSERVICE (exactly)
* identifier[openReferralId].value 1..1
* identifier[openReferralId] ^short = "The service's id in the Open Referral UK feed it was imported from"

Profile: SocialPrescribingLocation
Parent: Location
Id: social-prescribing-location
Title: "Where a community service is offered"
Description: "A place a service is offered at: named, with a position (WGS84) within range when it has one."
* name 1..1 MS
* position MS
* position obeys sp-location-1
* address MS
* managingOrganization MS
* identifier MS
* identifier ^slicing.discriminator.type = #value
* identifier ^slicing.discriminator.path = "system"
* identifier ^slicing.rules = #open
* identifier ^slicing.description = "By system"
* identifier contains openReferralId 0..1 MS
* identifier[openReferralId].system 1..1
* identifier[openReferralId].system = $ORUKLOCATION (exactly)
* identifier[openReferralId].value 1..1
* identifier[openReferralId] ^short = "The location's id in the Open Referral UK feed it was imported from"

Invariant: sp-location-1
Description: "Latitude is within -90..90 and longitude within -180..180 (WGS84 degrees)"
Expression: "latitude >= -90 and latitude <= 90 and longitude >= -180 and longitude <= 180"
Severity: #error
