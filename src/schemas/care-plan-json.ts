import * as z from 'zod';

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date, YYYY-MM-DD');
const isoDateTime = z.iso.datetime({ offset: true });
const odsCode = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9]{3,10}$/, 'an ODS code')
  .transform((code) => code.toUpperCase());

/**
 * `POST /referrals/{id}/care-plan`: a personalised care and support plan from a link worker's
 * tool without FHIR. Mapped onto the same CarePlan, Goals and CareTeam as the FHIR form.
 */
export const CarePlanJsonSchema = z
  .object({
    status: z.enum(['draft', 'active']).default('active'),
    title: z.string().trim().min(1).max(200).optional(),
    /** What matters to the person, in their words. */
    whatMattersToMe: z.string().trim().min(1).max(4000),
    period: z.object({ start: isoDate, end: isoDate.optional() }).optional(),
    author: z.object({ name: z.string().trim().min(1).max(200) }),
    goals: z
      .array(
        z.object({
          description: z.string().trim().min(1).max(1000),
          dueDate: isoDate.optional(),
          status: z
            .enum(['proposed', 'planned', 'accepted', 'active', 'on-hold', 'completed'])
            .default('active'),
        }),
      )
      .max(50)
      .default([]),
    activities: z
      .array(
        z.object({
          /** A code of the activity categories code system, e.g. `physical-activity`. */
          category: z.string().trim().min(1).max(64),
          description: z.string().trim().min(1).max(1000),
          status: z
            .enum(['not-started', 'scheduled', 'in-progress', 'on-hold', 'completed', 'cancelled', 'stopped'])
            .default('not-started'),
          provider: z
            .object({
              name: z.string().trim().min(1).max(200),
              odsCode: z.string().trim().min(3).max(10).optional(),
            })
            .optional(),
          /** The id of the HealthcareService in the directory the activity connects the person to. */
          serviceId: z
            .string()
            .regex(/^[A-Za-z0-9\-.]{1,64}$/)
            .optional(),
          location: z.string().trim().min(1).max(200).optional(),
          /** When, in words ("Tuesdays 10:00") or as a start date-time. */
          schedule: z.union([isoDateTime, z.string().trim().min(1).max(200)]).optional(),
          /** Index into `goals` of the goal this activity serves. */
          goal: z.number().int().min(0).optional(),
        }),
      )
      .max(50)
      .default([]),
    careTeam: z
      .array(
        z
          .object({
            name: z.string().trim().min(1).max(200),
            role: z.string().trim().min(1).max(64),
            /** The member's organisation, by ODS code: what the plan is shared with on consent. */
            organisation: z.object({ odsCode: odsCode }).strict().optional(),
          })
          .strict(),
      )
      .max(30)
      .default([]),
  })
  .strict();

/**
 * `POST /referrals/{id}/care-team/consent`: the person's decision about sharing their care plan
 * with its care team, as a tool without FHIR records it: `share` records their consent,
 * `withdraw` withdraws the one in force.
 */
export const CareTeamConsentJsonSchema = z
  .object({
    decision: z.enum(['share', 'withdraw']),
    /** When the person decided; now when not given. */
    date: isoDateTime.optional(),
  })
  .strict();

export type CareTeamConsentJson = z.infer<typeof CareTeamConsentJsonSchema>;

export type CarePlanJson = z.infer<typeof CarePlanJsonSchema>;
