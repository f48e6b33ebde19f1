import * as z from 'zod';
import { isValidNhsNumber } from '../fhir/nhs-number.ts';

const dateTime = z.iso.datetime({ offset: true });

/**
 * `POST /referrals`: a referral from a sender without FHIR (a community organisation's web form,
 * a self-referral). It maps onto the same FHIR resources as a GP system's Bundle.
 */
export const ReferralJsonSchema = z.object({
  /** The sender's own reference for this referral; sending it again is a retry. */
  referralId: z.string().trim().min(1).max(64),
  /** URI of the sender's system, scoping referralId; defaults to this service's own. */
  senderSystem: z.url().optional(),
  patient: z.object({
    nhsNumber: z
      .string()
      .transform((v) => v.replace(/\s/g, ''))
      .refine(isValidNhsNumber, 'NHS number fails the Modulus 11 check'),
    givenName: z.string().trim().min(1).optional(),
    familyName: z.string().trim().min(1),
    birthDate: z.iso.date().optional(),
    gender: z.enum(['male', 'female', 'other', 'unknown']).optional(),
    phone: z.string().trim().min(1).optional(),
    email: z.email().optional(),
    address: z
      .object({
        lines: z.array(z.string().trim().min(1)).min(1),
        city: z.string().optional(),
        postcode: z.string().optional(),
      })
      .optional(),
  }),
  referrer: z.object({
    name: z.string().trim().min(1),
    role: z.string().trim().min(1).optional(),
    organisation: z.object({
      odsCode: z.string().trim().toUpperCase().min(3).max(6).optional(),
      name: z.string().trim().min(1),
    }),
    phone: z.string().optional(),
    email: z.email().optional(),
  }),
  /** ODS code of the social prescribing service the person is referred to. */
  receivingServiceOdsCode: z.string().trim().toUpperCase().min(3).max(6),
  reasons: z
    .array(
      z.object({
        snomedCode: z
          .string()
          .regex(/^\d{6,18}$/)
          .optional(),
        text: z.string().trim().min(1).max(150).optional(),
      }),
    )
    .min(1, 'At least one reason for referral is required')
    .refine(
      (reasons) => reasons.every((r) => r.snomedCode || r.text),
      'Each reason needs a snomedCode or text',
    ),
  consent: z.object({
    /** The person agreed to the referral and to information being shared for it. */
    given: z.literal(true, 'Consent to refer and share information must be given'),
    date: dateTime,
  }),
  authoredOn: dateTime.optional(),
  priority: z.enum(['routine', 'urgent']).optional(),
  notes: z.string().trim().max(2000).optional(),
});

export type ReferralJson = z.infer<typeof ReferralJsonSchema>;
