Profile: SocialPrescribingCarePlan
Parent: CarePlan
Id: social-prescribing-care-plan
Title: "Personalised care and support plan (social prescribing)"
Description: "The one shared plan of a referral: what matters to the person, goals, the community activities agreed (each with a category and a status) and the care team."
* supportingInfo 1..* MS
* supportingInfo ^short = "The referral (one ServiceRequest) this plan belongs to, and any other information"
* obeys sp-plan-1
* intent = #plan
* subject only Reference(Patient)
* description MS
* goal MS
* goal only Reference(Goal)
* careTeam 0..1 MS
* activity MS
* activity.reference 0..0
* activity.detail 1..1 MS
* activity.detail.code 1..1 MS
* activity.detail.code from $ACTIVITY (required)
* activity.detail.status MS

Invariant: sp-plan-1
Description: "A care plan names exactly one referral (a ServiceRequest) among its supportingInfo: R4's basedOn may only point at another CarePlan"
Expression: "supportingInfo.where(reference.startsWith('ServiceRequest/')).count() = 1"
Severity: #error

Profile: SocialPrescribingGoal
Parent: Goal
Id: social-prescribing-goal
Title: "Goal of a social prescribing care plan"
Description: "A goal agreed with the person, in their words, with an optional target date."
* description.text 1..1 MS
* subject only Reference(Patient)
* target.dueDate MS

Profile: SocialPrescribingCareTeam
Parent: CareTeam
Id: social-prescribing-care-team
Title: "Care team of a social prescribing care plan"
Description: "The people around the plan, each with a role."
* subject only Reference(Patient)
* participant MS
* participant.role 1..* MS
* participant.role from $TEAMROLE (required)
