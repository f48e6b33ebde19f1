import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { operationOutcome } from '../fhir/outcomes.ts';
import { preferences } from '../fhir/prefer-header.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import type { IntakeResult, StoredEntry } from './intake.ts';

/** What the client asked to get back (https://hl7.org/fhir/R4/http.html#ops). */
export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

const RETURNS: readonly string[] = ['minimal', 'representation', 'OperationOutcome'];

/** The `return` preference of a `Prefer` header, as RFC 7240 reads it; `representation` when none. */
export function parsePrefer(header: string | undefined): ReturnPreference {
  const asked = preferences(header).get('return');
  return asked !== undefined && RETURNS.includes(asked) ? (asked as ReturnPreference) : 'representation';
}

export const versionedLocation = (r: Resource): string =>
  `${r.resourceType}/${r.id}${r.meta?.versionId ? `/_history/${r.meta.versionId}` : ''}`;

/**
 * The transaction-response for a referral Bundle: one entry per entry posted, in order, with its
 * status, location and ETag; the ServiceRequest's entry names the Task that tracks it.
 */
export function toTransactionResponse(
  result: IntakeResult,
  prefer: ReturnPreference,
  /** The FHIR base the answer names resources under (each shown one has its `fullUrl`). */
  fhirBase: string,
): Bundle {
  const entry = result.entries.map((stored): BundleEntry => {
    const notes = [...stored.notes];
    if (prefer === 'representation' && !stored.shown) {
      notes.push({
        severity: 'information',
        code: 'suppressed',
        diagnostics: `The stored ${stored.resource.resourceType} is not shown in this answer; read it, where the token allows, at its location`,
      });
    }
    if (stored.resource === result.serviceRequest || stored.resource.id === result.serviceRequest.id) {
      notes.push({
        severity: 'information',
        code: 'informational',
        diagnostics: `Progress of this referral is tracked by Task/${result.task.id}`,
      });
    }
    const outcome: OperationOutcome | undefined =
      notes.length > 0 || prefer === 'OperationOutcome'
        ? operationOutcome(
            notes.length
              ? notes
              : [{ severity: 'information', code: 'informational', diagnostics: 'Stored' }],
          )
        : undefined;
    const { meta } = stored.resource;
    const shown = prefer === 'representation' && stored.shown;
    return {
      ...(shown
        ? {
            fullUrl: `${fhirBase}/${stored.resource.resourceType}/${stored.resource.id}`,
            resource: toPublicResource(stored.resource),
          }
        : {}),
      response: {
        status: status(stored, result),
        location: versionedLocation(stored.resource),
        ...(meta?.versionId ? { etag: `W/"${meta.versionId}"` } : {}),
        ...(meta?.lastUpdated ? { lastModified: meta.lastUpdated } : {}),
        ...(outcome ? { outcome } : {}),
      },
    };
  });
  return { resourceType: 'Bundle', type: 'transaction-response', entry };
}

/**
 * 201 for what this referral created, 200 for what it found. A person's record is the sender's
 * own, so whether it was found tells the sender only what it sent before.
 */
function status(stored: StoredEntry, result: IntakeResult): string {
  return result.kind === 'created' && stored.created ? '201 Created' : '200 OK';
}
