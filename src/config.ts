import * as z from 'zod';

const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Every setting the service reads, from the environment (Node) or bindings and secrets (Workers). */
const SettingsSchema = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(8787),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PUBLIC_BASE_URL: z.url().optional(),
  MEDPLUM_BASE_URL: z.url().optional(),
  MEDPLUM_CLIENT_ID: optionalText,
  MEDPLUM_CLIENT_SECRET: optionalText,
  MAX_BODY_BYTES: positiveInt(1_048_576),
  UPSTREAM_TIMEOUT_MS: positiveInt(10_000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  DATA_DIR: optionalText,
  AUTH_CLIENTS: optionalText,
  AUTH_CLIENTS_FILE: optionalText,
  AUTH_SIGNING_KEY: optionalText,
  CORS_ORIGINS: optionalText,
  RATE_LIMIT_PER_MINUTE: positiveInt(600),
  TEST_OUTBOX_ACK_DELAY_MS: z.coerce.number().int().min(0).default(0),
  SUBSCRIPTION_ALLOW_LOOPBACK: z.enum(['true', 'false']).default('false'),
  NOTIFICATION_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
});

export type LogLevel = z.infer<typeof SettingsSchema>['LOG_LEVEL'];

export interface MedplumSettings {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
}

/** Typed settings, parsed once at start-up and passed down; nothing else reads the environment. */
export interface Config {
  port: number;
  host: string;
  /**
   * The facade's own base URL for links, Locations, and the issuer and audience of its tokens;
   * derived from each request when absent, which only an app without clients allows.
   */
  publicBaseUrl: string | undefined;
  /** Absent means "use the embedded Medplum" (Node only). */
  medplum: MedplumSettings | undefined;
  maxBodyBytes: number;
  upstreamTimeoutMs: number;
  logLevel: LogLevel;
  /** Where `npm start` keeps the embedded store; absent means `.data/` in the project. */
  dataDir: string | undefined;
  auth: {
    /** The client registry as JSON (a secret on Workers). */
    clients: string | undefined;
    /** A file holding the client registry (Node). */
    clientsFile: string | undefined;
    /** The facade's private signing key, a JWK as JSON (a secret). */
    signingKey: string | undefined;
  };
  /** Browser origins (care-plan viewers) allowed to call the API; none when empty. */
  corsOrigins: string[];
  /** Requests per client per minute where no platform rate limiter is bound. */
  rateLimitPerMinute: number;
  /**
   * Tests only (Node): how long the outbox holds a delivered message before marking it delivered,
   * so a test can kill the process between an audit write and its acknowledgement.
   */
  testOutboxAckDelayMs: number;
  /**
   * Subscriptions may name loopback endpoints (for testing receivers on this machine); the open
   * local mode allows them anyway. Private, link-local and metadata addresses never.
   */
  subscriptionAllowLoopback: boolean;
  /** How long a subscriber's endpoint has to answer a notification. */
  notificationTimeoutMs: number;
}

/** Every bad or missing setting, reported together. Values are never echoed (they may be secrets). */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface ParseOptions {
  /** Workers have no embedded store, so Medplum settings are required there. */
  requireMedplum?: boolean;
  /**
   * Node, which listens on HOST:PORT itself: with clients registered and no PUBLIC_BASE_URL, a
   * loopback HOST serves as the base URL (no one else can reach it), and any other is refused.
   */
  loopbackBaseUrl?: boolean;
}

/** The interfaces `npm start` may listen on without clients, or without PUBLIC_BASE_URL with them. */
export const LOOPBACK = ['127.0.0.1', '::1', 'localhost'];

export function parseConfig(env: Record<string, unknown>, options: ParseOptions = {}): Config {
  const result = SettingsSchema.safeParse(env);
  const problems = result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.') || '(settings)'}: ${issue.message}`);
  const isGiven = (key: string) => typeof env[key] === 'string' && (env[key] as string).trim() !== '';
  const medplumKeys = ['MEDPLUM_BASE_URL', 'MEDPLUM_CLIENT_ID', 'MEDPLUM_CLIENT_SECRET'] as const;
  const given = medplumKeys.filter(isGiven);
  if (given.length > 0 && given.length < medplumKeys.length) {
    for (const key of medplumKeys) {
      if (!given.includes(key)) problems.push(`${key}: required when any MEDPLUM_* setting is given`);
    }
  }
  if (options.requireMedplum && given.length === 0) {
    problems.push('MEDPLUM_BASE_URL: required (with MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET) on Workers');
  }
  const clientsGiven = isGiven('AUTH_CLIENTS') || isGiven('AUTH_CLIENTS_FILE');
  const host = SettingsSchema.shape.HOST.safeParse(env.HOST).data;
  const loopback = options.loopbackBaseUrl === true && host !== undefined && LOOPBACK.includes(host);
  if (options.loopbackBaseUrl && clientsGiven && !isGiven('PUBLIC_BASE_URL') && !loopback) {
    problems.push(
      `PUBLIC_BASE_URL: required when API clients are registered and HOST is not loopback (${LOOPBACK.join(', ')}); tokens are issued for it, never for a request's Host`,
    );
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  const s = result.data;
  const listenAddress = `http://${s.HOST.includes(':') ? `[${s.HOST}]` : s.HOST}:${s.PORT}`;
  return {
    port: s.PORT,
    host: s.HOST,
    publicBaseUrl:
      s.PUBLIC_BASE_URL?.replace(/\/+$/, '') ?? (loopback && clientsGiven ? listenAddress : undefined),
    medplum:
      s.MEDPLUM_BASE_URL && s.MEDPLUM_CLIENT_ID && s.MEDPLUM_CLIENT_SECRET
        ? {
            baseUrl: s.MEDPLUM_BASE_URL,
            clientId: s.MEDPLUM_CLIENT_ID,
            clientSecret: s.MEDPLUM_CLIENT_SECRET,
          }
        : undefined,
    maxBodyBytes: s.MAX_BODY_BYTES,
    upstreamTimeoutMs: s.UPSTREAM_TIMEOUT_MS,
    logLevel: s.LOG_LEVEL,
    dataDir: s.DATA_DIR,
    auth: { clients: s.AUTH_CLIENTS, clientsFile: s.AUTH_CLIENTS_FILE, signingKey: s.AUTH_SIGNING_KEY },
    corsOrigins: (s.CORS_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim().replace(/\/+$/, ''))
      .filter(Boolean),
    rateLimitPerMinute: s.RATE_LIMIT_PER_MINUTE,
    testOutboxAckDelayMs: s.TEST_OUTBOX_ACK_DELAY_MS,
    subscriptionAllowLoopback: s.SUBSCRIPTION_ALLOW_LOOPBACK === 'true',
    notificationTimeoutMs: s.NOTIFICATION_TIMEOUT_MS,
  };
}
