import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { operationOutcome } from '../fhir/outcomes.ts';
import { toPublicResource } from '../fhir/public-view.ts';
import type { IntakeResult, StoredEntry } from './intake.ts';

/** What the client asked to get back (https://hl7.org/fhir/R4/http.html#ops). */
export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

export function parsePrefer(header: string | undefined): ReturnPreference {
  const match = header?.match(/return=(minimal|representation|OperationOutcome)/);
  return (match?.[1] as ReturnPreference | undefined) ?? 'representation';
}

export const versionedLocation = (r: Resource): string =>
  `${r.resourceType}/${r.id}${r.meta?.versionId ? `/_history/${r.meta.versionId}` : ''}`;

/**
 * The transaction-response for a referral Bundle: one entry per entry posted, in order, with its
 * status, location and ETag; the ServiceRequest's entry names the Task that tracks it.
 */
export function toTransactionResponse(result: IntakeResult, prefer: ReturnPreference): Bundle {
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
    // A person's entry names the record and nothing about its versions: when it last changed
    // would tell whether it was on record before this referral.
    const person = stored.resource.resourceType === 'Patient';
    const { meta } = stored.resource;
    return {
      fullUrl: undefined,
      ...(prefer === 'representation' && stored.shown ? { resource: toPublicResource(stored.resource) } : {}),
      response: {
        status: status(stored, result),
        location: person ? `Patient/${stored.resource.id}` : versionedLocation(stored.resource),
        ...(!person && meta?.versionId ? { etag: `W/"${meta.versionId}"` } : {}),
        ...(!person && meta?.lastUpdated ? { lastModified: meta.lastUpdated } : {}),
        ...(outcome ? { outcome } : {}),
      },
    };
  });
  return { resourceType: 'Bundle', type: 'transaction-response', entry };
}

/**
 * A person's entry answers 200 whether this referral created the record or found it: telling the
 * two apart would tell any sender whether an NHS number is on record here.
 */
function status(stored: StoredEntry, result: IntakeResult): string {
  if (stored.resource.resourceType === 'Patient') return '200 OK';
  return result.kind === 'created' && stored.created ? '201 Created' : '200 OK';
}
