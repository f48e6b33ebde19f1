import type { Bundle, Provenance, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';
import { authorize, type RequestContext } from '../auth/principal.ts';
import { isVisible, mayShowInAnswer, ownedBy, recordOwner, scopedQuery } from '../auth/tenancy.ts';
import { FhirError, type Issue } from '../fhir/outcomes.ts';
import { OWN_SYSTEM } from '../fhir/systems.ts';
import { StoreError } from '../medplum/errors.ts';
import { type FhirStore, searchAll } from '../medplum/store.ts';
import { type WrittenEntry, writeInSteps } from '../workflow/stepwise-write.ts';
import { entryConditionIssues } from './entry-conditions.ts';
import { fingerprintReferral } from './fingerprint.ts';
import {
  entryMatching,
  identityKey,
  matchIdentifier,
  referrerOdsCode,
  referrerOdsCodeInBundle,
  resolveIdentities,
} from './identities.ts';
import { type KeyedLocks, unchangedSince } from './locks.ts';
import { type ReferralBundle, readReferralBundle } from './referral-bundle.ts';
import { checkReferralRules } from './rules.ts';
import { type EntryOutcome, planReferralWrite } from './write-plan.ts';

export interface IntakeDeps {
  store: FhirStore;
  locks: KeyedLocks;
  clock: () => Date;
  newId: () => string;
}

/** What became of one entry the sender posted. */
export interface StoredEntry {
  resource: Resource;
  created: boolean;
  /** Whether the answer may show the stored resource to the caller (tenancy's rule). */
  shown: boolean;
  notes: Issue[];
}

export interface IntakeResult {
  /** `created` for a new referral, `existing` when the same referral had already been accepted. */
  kind: 'created' | 'existing';
  serviceRequest: ServiceRequest;
  task: Task;
  /** One per entry of the sender's Bundle, in order. */
  entries: StoredEntry[];
}

/**
 * Accepts a social prescribing referral given as a transaction Bundle: checks it whole, matches
 * people and organisations, and stores it in one transaction exactly once. A retry of an accepted
 * referral returns what was stored; the same identifier with other content is a 409.
 */
export async function submitReferral(
  deps: IntakeDeps,
  body: unknown,
  ctx: RequestContext,
): Promise<IntakeResult> {
  authorize(ctx.principal, 'ServiceRequest', 'c');
  const result = await intakeAgainWhenOvertaken(deps, body, ctx);
  // The person is the sender's own record, so it may be shown as any other entry may.
  for (const entry of result.entries) entry.shown = mayShowInAnswer(ctx.principal, entry.resource);
  ctx.touched.push(
    ...result.entries.map((e) => `${e.resource.resourceType}/${e.resource.id}`),
    `Task/${result.task.id}`,
  );
  return result;
}

/** How many times an intake is made afresh when another process changed what it read. */
const OVERTAKEN_ATTEMPTS = 3;

/**
 * The intake, made again from its look-ups when the store refused one of its own versioned
 * updates (the sender's record of the person) because another process changed that record after
 * it was read: that is no fault of the sender's, and the next attempt reads the new version. When
 * it keeps happening the sender is told to try again (503 with Retry-After), never 412.
 */
async function intakeAgainWhenOvertaken(
  deps: IntakeDeps,
  body: unknown,
  ctx: RequestContext,
): Promise<IntakeResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await intake(deps, body, ctx);
    } catch (err) {
      if (!(err instanceof StoreError) || err.refusal !== 'precondition-failed') throw err;
      if (attempt >= OVERTAKEN_ATTEMPTS) {
        throw new FhirError(
          'unavailable',
          [
            {
              code: 'transient',
              diagnostics: 'The person’s record kept changing while this referral was written; send it again',
            },
          ],
          { 'Retry-After': '1' },
        );
      }
    }
  }
}

/**
 * The checks a referral Bundle passes before anything is looked up or written (base R4, entry
 * conditions, the referral rules); throws the 400 or 422 outcome, whole.
 */
export function checkReferralBundle(body: unknown, now: Date): ReferralBundle {
  const read = readReferralBundle(body);
  // The referral's rules read only what base validation has vouched for.
  if (read.issues.length > 0 || !read.referral) throw new FhirError('malformed', read.issues);
  const conditionIssues = entryConditionIssues(body as Bundle, read.referral);
  if (conditionIssues.length > 0) throw new FhirError('malformed', conditionIssues);
  const ruleIssues = checkReferralRules(read.referral, now);
  if (ruleIssues.length > 0) throw new FhirError('invalid', ruleIssues);
  return read.referral;
}

/** The referral's identifier as `system|value`, the one the intake keys it by. */
export function referralIdentifier(referral: ReferralBundle): string {
  const id = referral.serviceRequest.resource.identifier?.find((i) => i.system && i.value);
  return `${id?.system}|${id?.value}`;
}

async function intake(deps: IntakeDeps, body: unknown, ctx: RequestContext): Promise<IntakeResult> {
  const referral = checkReferralBundle(body, deps.clock());

  const fingerprint = await fingerprintReferral(referral);
  // The sender's record of the person is the one written; no other organisation's is looked at.
  const owner = recordOwner(ctx.principal.organization);
  // The generations of every key the intake may lock, read before the store is: if none has
  // changed once the keys are held, no intake under them ended in between, and what is read now
  // is still current (src/referrals/locks.ts).
  const maybeLocked = [
    referralKey(referral, ctx.principal.organization ?? referrerOdsCodeInBundle(referral)),
    ...identityKeys(referral, new Map(), owner),
  ];
  const before = await deps.locks.generations?.(maybeLocked);
  // Reads only, outside the lock: most people and organisations are already stored, and locking
  // on them would serialise every referral from the same practice. The referral accepted before
  // under this identifier, if any, is looked for in the same round trip.
  const resolution = await resolveIdentities(deps.store, referral, ctx.principal, owner, [
    acceptedSearch(referral, ctx),
  ]);
  const referrer = await referrerOdsCode(deps.store, referral, resolution);
  const { organization } = ctx.principal;
  if (organization !== undefined && referrer !== organization) {
    throw new FhirError('forbidden', [
      {
        code: 'forbidden',
        diagnostics: referrer
          ? 'A referral can be sent only on behalf of the organisation this client is registered for'
          : 'The referrer’s organisation (ODS code) must be stated, and be the one this client is registered for',
        expression: [`${referral.serviceRequest.at}.requester`],
      },
    ]);
  }
  // Who may see what is written: the referrer and the receiving service.
  const access = [referrer, resolution.receivingOdsCode].filter((c): c is string => Boolean(c));
  // A person named rather than sent (one of the sender's own records) is locked by NHS number
  // too, as one sent would be: the receiving service's label may be added to their record.
  const named = resolution.resolved.get('subject');
  const namedNhs = named?.resourceType === 'Patient' ? matchIdentifier(named) : undefined;
  const lockKeys = [
    referralKey(referral, referrer),
    ...identityKeys(referral, resolution.matched, owner),
    ...(namedNhs ? [identityKey('Patient', namedNhs, owner)] : []),
  ];
  const key = await referralKeyHash(referral, referrer);
  return deps.locks.withLocks(lockKeys, async (generations) => {
    let accepted = resolution.also[0];
    if (!unchangedSince(before, generations, lockKeys)) {
      // Another intake under these keys ended meanwhile. In one round trip: the referral if it
      // was accepted before, and the people and organisations a concurrent intake may have
      // stored (the Patient, which may also have gained a version, always looked up again).
      const stable = new Map([...resolution.matched].filter(([, r]) => r.resourceType !== 'Patient'));
      const matching = entryMatching(referral, owner, stable);
      const [found, person, ...matches] = await searchAll(deps.store, [
        acceptedSearch(referral, ctx),
        // The person named rather than sent, whose record may have gained a version.
        { type: 'Patient', query: { _id: named?.id ?? 'none', _security: ownedBy(owner), _count: '1' } },
        ...matching.searches,
      ]);
      accepted = found;
      resolution.matched = matching.apply(matches);
      const current = person?.entry?.[0]?.resource;
      if (named && current) resolution.resolved.set('subject', current);
    }
    const existing = (accepted?.entry ?? [])
      .map((e) => e.resource as ServiceRequest)
      .find((sr) => isVisible(ctx.principal, sr));
    if (existing && !hasFingerprint(existing, fingerprint)) {
      throw new FhirError('conflict', [
        {
          code: 'duplicate',
          diagnostics: 'A different referral with this identifier has already been accepted',
          expression: [`${referral.serviceRequest.at}.identifier`],
        },
      ]);
    }
    // Accepted before, and the directory has changed since: answer with what was stored.
    if (existing && resolution.issues.length > 0) {
      // Accepted whole before: answer with it. Left incomplete, it cannot be completed now.
      const replayed = await replay(deps.store, existing);
      if (replayed) return replayed;
      throw new FhirError('invalid', resolution.issues);
    }
    if (resolution.issues.length > 0) throw new FhirError('invalid', resolution.issues);
    const plan = planReferralWrite({
      referral,
      resolution,
      fingerprint,
      referralKey: key,
      requestId: ctx.requestId,
      access,
      receiver: resolution.receivingOdsCode,
      owner,
      now: deps.clock(),
      newId: deps.newId,
    });
    // A referral accepted before is written again, not replayed: every create is conditional, so
    // what an earlier, interrupted write left out is completed and nothing is written twice.
    // People and organisations new here are stored first, so that what names them names the
    // record stored, whichever process stored it.
    const written = await writeInSteps(deps.store, plan.entries, 'referral', {
      settleFirst: (entry) => plan.sharedCreates.has(entry.fullUrl ?? ''),
    });
    const stored = (fullUrl: string) => written.get(fullUrl) as WrittenEntry;
    const entries = plan.outcomes.map((outcome: EntryOutcome): StoredEntry => {
      const notes: Issue[] = [];
      if (outcome.kind === 'matched')
        return { resource: outcome.stored, created: false, shown: false, notes };
      const entry = stored(outcome.fullUrl);
      return { resource: entry.resource, created: !existing && entry.created, shown: false, notes };
    });
    const request = entries[referral.entries.indexOf(referral.serviceRequest)] as StoredEntry;
    const serviceRequest = request.resource as ServiceRequest;
    const task = stored(plan.taskFullUrl).resource as Task;
    // Created only if this write stored the ServiceRequest: another process may have stored the
    // same referral between the look-up and the write, and then this is its retry.
    return { kind: request.created ? 'created' : 'existing', serviceRequest, task, entries };
  });
}

const hasFingerprint = (sr: ServiceRequest, fingerprint: string): boolean =>
  sr.meta?.tag?.some((t) => t.system === OWN_SYSTEM.referralFingerprint && t.code === fingerprint) === true;

/** The referral's identity as a short stable name: its sender's organisation and identifier. */
async function referralKeyHash(referral: ReferralBundle, referrer: string | undefined): Promise<string> {
  const text = referralKey(referral, referrer);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest).slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A sender's referral identifier is its own: two organisations may use the same one. */
function referralKey(referral: ReferralBundle, referrer: string | undefined): string {
  const id = referral.serviceRequest.resource.identifier?.find((i) => i.system && i.value);
  return `ServiceRequest|${referrer ?? ''}|${id?.system}|${id?.value}`;
}

/** Keys for the Patient (always: it may be updated) and for every entry that will be created. */
function identityKeys(
  referral: ReferralBundle,
  matched: ReadonlyMap<number, Resource>,
  owner: string,
): string[] {
  const keys: string[] = [];
  for (const entry of referral.entries) {
    const identifier = matchIdentifier(entry.resource);
    if (identifier && (entry.resource.resourceType === 'Patient' || !matched.has(entry.index))) {
      keys.push(identityKey(entry.resource.resourceType, identifier, owner));
    }
  }
  const subject = referral.serviceRequest.resource.subject?.identifier;
  if (subject) keys.push(identityKey('Patient', subject, owner));
  return keys;
}

/**
 * The search for the referral already accepted under this identifier from the caller's
 * organisation; another organisation's referral with the same identifier is neither found nor
 * revealed.
 */
function acceptedSearch(
  referral: ReferralBundle,
  ctx: RequestContext,
): { type: 'ServiceRequest'; query: Record<string, string> } {
  const id = referral.serviceRequest.resource.identifier?.find((i) => i.system && i.value);
  const query = new URLSearchParams({ identifier: `${id?.system}|${id?.value}`, _count: '1' });
  return {
    type: 'ServiceRequest',
    query: Object.fromEntries(scopedQuery(ctx.principal, 'ServiceRequest', query)),
  };
}

/** Rebuilds the answer to an accepted referral from its intake Provenance, for a retry. */
async function replay(store: FhirStore, serviceRequest: ServiceRequest): Promise<IntakeResult | undefined> {
  const found = await store.search('Provenance', {
    target: `ServiceRequest/${serviceRequest.id}`,
    _include: 'Provenance:target',
    _count: '100',
  });
  const resources = (found.entry ?? []).map((e) => e.resource as Resource);
  const provenance = resources.find(
    (r): r is Provenance =>
      r.resourceType === 'Provenance' && r.activity?.coding?.some((c) => c.code === 'CREATE') === true,
  );
  const byRef = new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r]));
  const targets = (provenance?.target ?? [])
    .map((t) => byRef.get(t.reference ?? ''))
    .filter((r): r is Resource => Boolean(r));
  const task = targets.find((r): r is Task => r.resourceType === 'Task');
  if (!task) return undefined;
  const senderTargets = targets.filter((r) => r !== task);
  return {
    kind: 'existing',
    serviceRequest,
    task,
    entries: senderTargets.map((resource) => ({ resource, created: false, shown: false, notes: [] })),
  };
}
