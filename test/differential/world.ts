import { exportJWK, generateKeyPair } from 'jose';
import { type ClientKey, clientAssertion, tokenForm } from '../../scripts/smart-client.ts';
import { testClientKey } from '../../scripts/test-client-keys.ts';
import { type AuditSink, createStoreAuditSink } from '../../src/audit/audit-sink.ts';
import { type AuthMode, createAuthMode } from '../../src/auth/mode.ts';
import { generateSigningKeyJwk } from '../../src/auth/tokens.ts';
import { createEmbeddedStore } from '../../src/medplum/embedded/connect.ts';
import { seedEmbeddedStore } from '../../src/medplum/embedded/seed.ts';
import type { FhirStore } from '../../src/medplum/store.ts';
import { SqliteAsyncJobs } from '../../src/outbox/sqlite-async-jobs.ts';
import { SqliteOutbox } from '../../src/outbox/sqlite-outbox.ts';
import { openOutboxDatabase } from '../../src/outbox/sqlite-outbox-table.ts';
import { createInProcessLocks } from '../../src/referrals/locks.ts';
import { asyncIntakeDeadLetterHandlers, asyncIntakeHandlers } from '../../src/routes/async-referrals.ts';
import { call, captureLogger, createTestApp, TEST_NOW, type TestApp } from '../support/app.ts';
import type { FakeMedplum } from '../support/medplum-handlers.ts';
import { remoteStore } from '../support/remote-medplum.ts';
import { CLIENTS_JSON } from '../support/secured.ts';
import type { Answer } from './normalise.ts';

export { type Answer, Normaliser } from './normalise.ts';

/** Where the facade says it is: tokens are asked for and issued there. */
export const BASE = 'http://facade.test';
const TOKEN_URL = `${BASE}/oauth2/token`;

/**
 * The organisations of the differential worlds. The observed ones (a practice, the service it
 * refers to, the directory's keepers) are the examples' own; the others are a second practice and
 * a second service that refer and plan for the same people.
 */
export const CLIENT = {
  gp: 'riverside-medical-gp-system',
  sp: 'riverside-social-prescribing',
  directory: 'riverside-directory-admin',
  operator: 'information-governance-audit',
  otherGp: 'hillside-surgery-gp-system',
  otherSp: 'hillside-social-prescribing',
  otherAudit: 'hillside-surgery-audit',
  /** The practice's information governance: its own organisation's audit trail only. */
  gpAudit: 'riverside-medical-audit',
  /** A district nursing team in the people's care teams (examples/auth). */
  nurse: 'riverside-district-nursing',
} as const;
export type ClientName = (typeof CLIENT)[keyof typeof CLIENT];

/** Registrations beyond examples/auth: each observed client may also read its audit trail. */
const EXTRA: { clientId: string; organization: string; scopes: string[] }[] = [
  {
    clientId: CLIENT.otherGp,
    organization: 'B99902',
    scopes: ['system/ServiceRequest.crs', 'system/Task.u', 'system/*.cruds'],
  },
  {
    clientId: CLIENT.otherSp,
    organization: 'HSP01',
    scopes: [
      'system/*.rs',
      'system/Task.rus',
      'system/CarePlan.cruds',
      'system/Goal.cruds',
      'system/CareTeam.cruds',
      'system/QuestionnaireResponse.crs',
      'system/Consent.cu',
    ],
  },
  { clientId: CLIENT.otherAudit, organization: 'B99902', scopes: ['system/AuditEvent.rs'] },
  { clientId: CLIENT.gpAudit, organization: 'B99901', scopes: ['system/AuditEvent.rs'] },
];

let keys: Promise<Map<string, ClientKey & { publicJwk: object }>> | undefined;
function extraKeys() {
  keys ??= (async () => {
    const made = new Map<string, ClientKey & { publicJwk: object }>();
    for (const { clientId } of EXTRA) {
      const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
      const kid = `${clientId}-1`;
      made.set(clientId, {
        clientId,
        jwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES384' },
        publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES384' },
      });
    }
    return made;
  })();
  return keys;
}

async function registry(): Promise<{ json: string; scopes: Map<string, string> }> {
  const made = await extraKeys();
  const parsed = JSON.parse(CLIENTS_JSON) as {
    clients: { clientId: string; organization: string; scopes: string[]; jwks?: unknown }[];
  };
  for (const client of parsed.clients) {
    if (client.clientId === CLIENT.gp || client.clientId === CLIENT.sp)
      client.scopes.push('system/AuditEvent.rs');
  }
  for (const extra of EXTRA) {
    parsed.clients.push({ ...extra, jwks: { keys: [made.get(extra.clientId)?.publicJwk] } });
  }
  return {
    json: JSON.stringify(parsed),
    scopes: new Map(parsed.clients.map((c) => [c.clientId, c.scopes.join(' ')])),
  };
}

const keyOf = async (clientId: string): Promise<ClientKey> =>
  (await extraKeys()).get(clientId) ?? testClientKey(clientId);

export interface Request {
  method?: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One facade and its store, with every client's token at hand. */
export interface World {
  name: string;
  store: FhirStore;
  /** Sends as the client; waits until the request's audit record is stored. */
  send(client: ClientName, request: Request): Promise<Answer>;
  /** Every `Type/id` this world's answers have shown, in the order first seen, by whom. */
  seen: Map<ClientName, string[]>;
}

export type StoreKind = 'embedded' | 'fake';

/** A world on a fresh store: the embedded Medplum (seeded), or a fake of a real one. */
export async function createWorld(name: string, kind: StoreKind, fake?: FakeMedplum): Promise<World> {
  const { json, scopes } = await registry();
  const auth = (await createAuthMode({
    clients: json,
    signingKey: JSON.stringify(await generateSigningKeyJwk()),
    openWhenUnconfigured: false,
    clock: () => TEST_NOW,
  })) as AuthMode & { kind: 'tokens' };
  const store =
    kind === 'fake' ? remoteStore(fake as FakeMedplum) : createEmbeddedStore({ timeoutMs: 10_000 }).store;
  const logger = captureLogger();
  let audit: AuditSink | undefined;
  // `Prefer: respond-async` as on Node: jobs and an outbox in memory, worked after each request.
  const db = openOutboxDatabase('memory');
  const jobs = new SqliteAsyncJobs(db);
  const locks = createInProcessLocks();
  const outbox = new SqliteOutbox(db, {
    handlers: asyncIntakeHandlers(
      { store, locks, clock: () => TEST_NOW, newId: () => crypto.randomUUID() },
      jobs,
      () => audit as AuditSink,
    ),
    deadLetterHandlers: asyncIntakeDeadLetterHandlers(jobs),
    logger,
    policy: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
  });
  const test: TestApp = createTestApp(
    { PUBLIC_BASE_URL: BASE, RATE_LIMIT_PER_MINUTE: '1000000' },
    {
      store,
      clock: () => TEST_NOW,
      auth,
      logger,
      locks,
      asyncIntake: { jobs, outbox },
      auditFor: (s) => {
        audit = createStoreAuditSink(s, logger);
        return audit;
      },
    },
  );
  await seedEmbeddedStore(store);
  const tokens = new Map<string, string>();
  const tokenOf = async (client: ClientName): Promise<string> => {
    const known = tokens.get(client);
    if (known) return known;
    const assertion = await clientAssertion(await keyOf(client), TOKEN_URL, { now: TEST_NOW });
    const response = await test.app.request(TOKEN_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: tokenForm(assertion, scopes.get(client) as string),
    });
    const body = (await response.json()) as { access_token?: string; error?: string };
    if (!body.access_token) throw new Error(`token refused for ${client}: ${body.error}`);
    tokens.set(client, body.access_token);
    return body.access_token;
  };
  const seen = new Map<ClientName, string[]>();
  return {
    name,
    store,
    seen,
    async send(client, request) {
      const token = await tokenOf(client);
      const response = await call(test.app, request.path, {
        method: request.method ?? 'GET',
        headers: { ...request.headers, authorization: `Bearer ${token}` },
        ...(request.body === undefined
          ? {}
          : { body: typeof request.body === 'string' ? request.body : JSON.stringify(request.body) }),
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : '';
      } catch {
        // Not JSON: compared as text.
      }
      const headers: Record<string, string> = {};
      response.headers.forEach((value, key) => {
        headers[key] = value;
      });
      const list = seen.get(client) ?? [];
      for (const reference of referencesIn({ headers, body }))
        if (!list.includes(reference)) list.push(reference);
      seen.set(client, list);
      while ((await outbox.deliverDue()) > 0) {
        // Every queued referral is worked before the next request, in both worlds alike.
      }
      await settle(audit);
      return { status: response.status, headers, body };
    },
  };
}

async function settle(audit: AuditSink | undefined): Promise<void> {
  if (!audit) return;
  for (let i = 0; i < 500; i++) {
    await audit.flush();
    if (audit.stats().pending === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const REFERENCE = /\b([A-Z][A-Za-z]+|_async)\/([A-Za-z0-9.-]{1,64})(?=$|[/"?#\s,])/g;

/** Every `Type/id` an answer names (locations, references, resources by their type and id). */
export function referencesIn(answer: { headers: Record<string, string>; body: unknown }): string[] {
  const found: string[] = [];
  const add = (type: string, id: string) => {
    if (UUID.test(id)) found.push(`${type}/${id}`);
  };
  const text = `${answer.headers.location ?? ''} ${answer.headers['content-location'] ?? ''} ${JSON.stringify(answer.body)}`;
  for (const match of text.matchAll(REFERENCE)) add(match[1] as string, match[2] as string);
  walk(answer.body, (node) => {
    const record = node as { resourceType?: unknown; id?: unknown };
    if (typeof record.resourceType === 'string' && typeof record.id === 'string')
      add(record.resourceType, record.id);
  });
  return found;
}

function walk(node: unknown, visit: (node: object) => void): void {
  if (Array.isArray(node)) for (const item of node) walk(item, visit);
  else if (node && typeof node === 'object') {
    visit(node);
    for (const value of Object.values(node)) walk(value, visit);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
