import type { Resource } from '@medplum/fhirtypes';
import { stableStringify } from '../fhir/stable-json.ts';
import type { ReferralBundle } from './referral-bundle.ts';
import { forEachReference } from './rules.ts';

/**
 * A digest of what a referral says, independent of the sender's `urn:uuid`s, ids and meta, so a
 * retry of the same referral matches and a different referral under the same identifier does not.
 */
export async function fingerprintReferral(referral: ReferralBundle): Promise<string> {
  const ordinal = new Map<string, string>();
  const counts = new Map<string, number>();
  for (const entry of referral.entries) {
    const type = entry.resource.resourceType;
    const n = counts.get(type) ?? 0;
    counts.set(type, n + 1);
    if (entry.fullUrl) ordinal.set(entry.fullUrl, `${type}#${n}`);
  }
  const content = referral.entries.map((entry) => {
    const {
      id: _id,
      meta: _meta,
      text: _text,
      ...rest
    } = structuredClone(entry.resource) as Resource & Record<string, unknown>;
    forEachReference(rest, (ref) => {
      if (ref.reference && ordinal.has(ref.reference)) ref.reference = ordinal.get(ref.reference);
    });
    return rest;
  });
  const bytes = new TextEncoder().encode(stableStringify(content));
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
