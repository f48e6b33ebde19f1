import type { CarePlan, CareTeam, Goal, Reference } from '@medplum/fhirtypes';
import { OWN_SYSTEM, SYSTEM } from '../fhir/systems.ts';
import { ACTIVITY_CATEGORIES, CARE_TEAM_ROLES, displayOf } from '../fhir/terminology.ts';
import type { CarePlanJson } from '../schemas/care-plan-json.ts';

export interface MappedCarePlan {
  carePlan: CarePlan;
  goals: { fullUrl: string; resource: Goal }[];
  careTeam?: { fullUrl: string; resource: CareTeam };
}

/**
 * The plain care plan as FHIR: a CarePlan (intent plan) naming the referral, "what matters to
 * me" as its description, one Goal per goal, activities with their category coded, and a CareTeam.
 * JSON paths are kept as expressions by the caller; this only builds resources.
 */
export function carePlanJsonToFhir(
  json: CarePlanJson,
  referral: { serviceRequest: string; subject: Reference },
  newId: () => string,
): MappedCarePlan {
  const goals = json.goals.map((goal) => ({
    fullUrl: `urn:uuid:${newId()}`,
    resource: {
      resourceType: 'Goal',
      lifecycleStatus: goal.status,
      description: { text: goal.description },
      subject: referral.subject,
      ...(goal.dueDate ? { target: [{ dueDate: goal.dueDate }] } : {}),
    } as Goal,
  }));
  const careTeam = json.careTeam.length
    ? {
        fullUrl: `urn:uuid:${newId()}`,
        resource: {
          resourceType: 'CareTeam',
          status: 'active',
          subject: referral.subject,
          participant: json.careTeam.map((member) => ({
            role: [
              {
                coding: [
                  {
                    system: CARE_TEAM_ROLES.url,
                    code: member.role,
                    ...(displayOf(CARE_TEAM_ROLES, member.role)
                      ? { display: displayOf(CARE_TEAM_ROLES, member.role) }
                      : {}),
                  },
                ],
              },
            ],
            member: { display: member.name },
            ...(member.organisation
              ? {
                  onBehalfOf: {
                    type: 'Organization',
                    identifier: { system: SYSTEM.odsOrganization, value: member.organisation.odsCode },
                  },
                }
              : {}),
          })),
        } as CareTeam,
      }
    : undefined;
  const carePlan: CarePlan = {
    resourceType: 'CarePlan',
    status: json.status,
    intent: 'plan',
    ...(json.title ? { title: json.title } : {}),
    description: json.whatMattersToMe,
    category: [
      { coding: [{ system: OWN_SYSTEM.carePlanCategory, code: 'personalised-care-and-support-plan' }] },
    ],
    subject: referral.subject as CarePlan['subject'],
    supportingInfo: [{ reference: referral.serviceRequest }],
    author: { display: json.author.name },
    ...(json.period ? { period: json.period } : {}),
    goal: goals.map((g) => ({ reference: g.fullUrl })),
    ...(careTeam ? { careTeam: [{ reference: careTeam.fullUrl }] } : {}),
    activity: json.activities.map((activity) => ({
      detail: {
        code: {
          coding: [
            {
              system: ACTIVITY_CATEGORIES.url,
              code: activity.category,
              ...(displayOf(ACTIVITY_CATEGORIES, activity.category)
                ? { display: displayOf(ACTIVITY_CATEGORIES, activity.category) }
                : {}),
            },
          ],
        },
        status: activity.status,
        description: activity.description,
        ...(activity.provider || activity.serviceId
          ? {
              performer: [
                ...(activity.serviceId ? [{ reference: `HealthcareService/${activity.serviceId}` }] : []),
                ...(activity.provider
                  ? [
                      {
                        display: activity.provider.name,
                        ...(activity.provider.odsCode
                          ? {
                              identifier: {
                                system: SYSTEM.odsOrganization,
                                value: activity.provider.odsCode,
                              },
                            }
                          : {}),
                      },
                    ]
                  : []),
              ],
            }
          : {}),
        ...(activity.location ? { location: { display: activity.location } } : {}),
        ...(activity.schedule
          ? /^\d{4}-\d{2}-\d{2}T/.test(activity.schedule)
            ? { scheduledPeriod: { start: activity.schedule } }
            : { scheduledString: activity.schedule }
          : {}),
        ...(activity.goal !== undefined && goals[activity.goal]
          ? { goal: [{ reference: goals[activity.goal]?.fullUrl as string }] }
          : {}),
      },
    })),
  };
  return { carePlan, goals, ...(careTeam ? { careTeam } : {}) };
}
