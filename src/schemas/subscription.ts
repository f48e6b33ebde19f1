import * as z from 'zod';

/** The HMAC secret extension Medplum reads, so receivers written for Medplum verify unchanged. */
export const SECRET_EXTENSION = 'https://www.medplum.com/fhir/StructureDefinition/subscription-secret';

/** The Subscriptions R5 Backport IG's extensions this service reads. */
export const BACKPORT = {
  profile: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription',
  filterCriteria:
    'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria',
  payloadContent:
    'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content',
  statusProfile:
    'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4',
  statusOperation:
    'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status',
  eventsOperation:
    'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events',
} as const;

/** Headers a subscriber may not set on its notifications: the service's own, and HTTP's framing. */
const RESERVED_HEADERS = [
  'host',
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'x-signature',
  'x-notification-id',
  'x-subscription-id',
  'x-event-number',
];

const header = z
  .string()
  .max(2048)
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}:[^\r\n]*$/, 'a header, "Name: value", on one line')
  .refine(
    (h) => !RESERVED_HEADERS.includes(h.slice(0, h.indexOf(':')).trim().toLowerCase()),
    'a header the service sets itself',
  );

const extension = z.object({ url: z.string().min(1) }).passthrough();

/** Accepted `channel.payload` values: the resource as FHIR JSON, or (absent) no body. */
const PAYLOAD_TYPES = ['application/fhir+json', 'application/json'] as const;

/**
 * A Subscription as a client sends it (R4, https://hl7.org/fhir/R4/subscription.html): a
 * `rest-hook` channel only; what the server manages (`error`) is ignored; anything else it does
 * not act on is refused rather than stored and ignored.
 */
export const SubscriptionInputSchema = z
  .object({
    resourceType: z.literal('Subscription'),
    id: z.string().max(64).optional(),
    meta: z
      .object({ profile: z.array(z.string()).optional() })
      .passthrough()
      .optional(),
    status: z.enum(['requested', 'active', 'off', 'error']),
    reason: z.string().trim().min(1).max(1000),
    criteria: z.string().trim().min(1).max(2048),
    _criteria: z
      .object({ extension: z.array(extension).max(10) })
      .strict()
      .optional(),
    contact: z
      .array(z.object({ system: z.string().optional(), value: z.string().max(256).optional() }).strict())
      .max(10)
      .optional(),
    end: z.iso.datetime({ offset: true }).optional(),
    error: z.string().optional(),
    extension: z.array(extension).max(10).optional(),
    channel: z
      .object({
        type: z.literal('rest-hook', { error: 'channel.type must be rest-hook (the only channel served)' }),
        endpoint: z.string().min(1).max(2048),
        payload: z.enum(PAYLOAD_TYPES).optional(),
        _payload: z
          .object({ extension: z.array(extension).max(5) })
          .strict()
          .optional(),
        header: z.array(header).max(10).optional(),
      })
      .strict(),
  })
  .strict();

export type SubscriptionInput = z.infer<typeof SubscriptionInputSchema>;
