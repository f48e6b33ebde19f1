/**
 * Open Referral UK (ORUK) feeds mapped onto FHIR R4 Organization, Location and HealthcareService:
 * pure, no I/O. Accepts the widely deployed ORUK v1 API shape and the HSDS 3 / ORUK 3 UK profile
 * shape, as one record, an array, an organisation with its services, or a list page.
 * ORUK: https://openreferraluk.org/ · HSDS 3: https://docs.openreferral.org/en/latest/hsds/
 */

import { FeedBuilder, pathTo } from './open-referral/feed.ts';
import { isObject, type Json, objectsIn, REFUSAL } from './open-referral/fields.ts';
import type { MappedFeed } from './open-referral/types.ts';

export { CATEGORY_KEYWORDS } from './open-referral/activity-category.ts';
export {
  LIMIT as OPEN_REFERRAL_LIMIT,
  REFUSAL as OPEN_REFERRAL_REFUSAL,
  tooLong,
} from './open-referral/fields.ts';
export {
  DEFAULT_FEED_SYSTEMS,
  type FeedSystems,
  feedSystemsOf,
  withFeedSystems,
} from './open-referral/systems.ts';
export type { MappedFeed, MappedRecord, RecordKind, RefusedRecord } from './open-referral/types.ts';

type Shape = 'organization' | 'service-at-location' | 'service';

/** Keys only a service has (in either version), and keys only an organisation has. */
const SERVICE_KEYS = [
  'service_at_locations',
  'service_taxonomys',
  'attributes',
  'organization',
  'organization_id',
];
const ORGANIZATION_KEYS = [
  'organization_identifiers',
  'website',
  'logo',
  'uri',
  'legal_status',
  'tax_status',
  'year_incorporated',
  'parent_organization_id',
  'locations',
  'programs',
];

/** What a record is, by its keys; undefined when it is none of the three. */
function shapeOf(value: Json): Shape | undefined {
  if ('resourceType' in value) return undefined; // FHIR sent by mistake, not a feed
  if (Array.isArray(value.services)) return 'organization';
  const linksBoth = isObject(value.service) || isObject(value.location) || 'service_id' in value;
  if (linksBoth && !('name' in value)) return 'service-at-location';
  const has = (keys: string[]) => keys.some((key) => key in value);
  if (has(ORGANIZATION_KEYS) && !has(SERVICE_KEYS)) return 'organization';
  if (has(SERVICE_KEYS) || 'id' in value || 'name' in value) return 'service';
  return undefined;
}

/** A list page's items: HSDS 3 `contents` (by `total_items`…), ORUK v1 `content` (`totalElements`…). */
function pageItems(value: Json): { key: string; items: unknown[] } | undefined {
  if (Array.isArray(value.contents)) return { key: 'contents', items: value.contents };
  if (Array.isArray(value.content)) return { key: 'content', items: value.content };
  return undefined;
}

/** One record of any shape; a list item that is none is taken for a service (and refused as one). */
function walk(feed: FeedBuilder, value: unknown, path: string, shape?: Shape): void {
  const kind = shape ?? (isObject(value) ? (shapeOf(value) ?? 'service') : 'service');
  if (kind === 'service' || !isObject(value)) {
    feed.service(value, path);
  } else if (kind === 'service-at-location') {
    feed.serviceAtLocation(value, path);
  } else {
    const provider = feed.organization(value, path);
    for (const [service, i] of objectsIn(value.services)) {
      feed.service(service, pathTo(pathTo(path, 'services'), i), { provider });
    }
  }
}

/**
 * Maps an ORUK feed: one service, organisation (with `services`) or service_at_location; an array
 * of them; or a list page of them. Never throws: each record that cannot be stored is refused on
 * its own with a fixed reason, and an input that is none of these is one refusal of kind `input`.
 */
export function mapOpenReferral(input: unknown): MappedFeed {
  const feed = new FeedBuilder();
  const items = Array.isArray(input)
    ? { key: undefined, items: input }
    : isObject(input)
      ? pageItems(input)
      : undefined;
  if (items) {
    items.items.forEach((item, i) => {
      walk(feed, item, pathTo(items.key ?? '$', i));
    });
    return feed.finish();
  }
  const shape = isObject(input) ? shapeOf(input) : undefined;
  if (!shape) return { records: [], refused: [{ kind: 'input', index: '$', reason: REFUSAL.input }] };
  walk(feed, input, '$', shape);
  return feed.finish();
}
