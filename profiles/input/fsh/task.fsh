Profile: SocialPrescribingReferralTask
Parent: Task
Id: social-prescribing-referral-task
Title: "Social prescribing referral task"
Description: "Where a referral stands: the receiving service moves it through the referral states (HL7 SDOH Clinical Care referral management); finer UK steps are in businessStatus."
* status from $TASKSTATUS (required)
* businessStatus MS
* businessStatus from $PROGRESS (extensible)
* intent = #order
* code 1..1
* code = $TASKCODE#fulfill
* focus 1..1 MS
* focus only Reference(ServiceRequest)
* for 1..1 MS
* for only Reference(Patient)
* authoredOn 1..1
* requester 1..1 MS
* owner 1..1 MS
* statusReason MS
* obeys sp-task-1

Invariant: sp-task-1
Description: "A referral rejected, cancelled, on hold or failed says why (statusReason)"
Expression: "(status = 'rejected' or status = 'cancelled' or status = 'on-hold' or status = 'failed') implies statusReason.exists()"
Severity: #error
