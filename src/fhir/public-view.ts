import type { Bundle, BundleLink, Meta, Resource } from '@medplum/fhirtypes';
import { STORE_INTERNAL_SEARCH_PARAMS } from './capability-statement.ts';
import { OWN_SYSTEM } from './systems.ts';

/** Meta fields Medplum uses internally (project, compartments, authorship); never shown to callers. */
const INTERNAL_META_FIELDS = [
  'project',
  'author',
  'compartment',
  'account',
  'accounts',
  'onBehalfOf',
] as const;

/**
 * The resource as callers see it: store-internal meta removed, and the organisation access labels
 * too (which organisations a person is known to is not for every one of them to see).
 */
export function toPublicResource<T extends Resource>(resource: T): T {
  if (!resource.meta) return resource;
  const meta: Record<string, unknown> = { ...resource.meta };
  for (const field of INTERNAL_META_FIELDS) delete meta[field];
  const security = resource.meta.security?.filter(
    (c) =>
      c.system !== OWN_SYSTEM.organisationAccess &&
      c.system !== OWN_SYSTEM.recordOwner &&
      c.system !== OWN_SYSTEM.careTeamAccess,
  );
  if (security?.length) meta.security = security;
  else delete meta.security;
  return { ...resource, meta: meta as Meta };
}

export interface SearchPage {
  /** The facade's base URL, e.g. `https://sp.example.nhs.uk`. */
  baseUrl: string;
  /** The search path below `/fhir`, e.g. `ServiceRequest`. */
  path: string;
  /** The query the caller sent, as forwarded to the store (with `_count` and `_offset` set). */
  query: URLSearchParams;
}

/**
 * Rewrites a store's search or history Bundle onto the facade: every `fullUrl` and paging link
 * points at this service, whatever the store's own base URL was. When the store wrote no paging
 * links (Medplum's in-memory router does not), they are computed from `total`.
 */
export function toFacadeBundle(bundle: Bundle, page: SearchPage): Bundle {
  const fhirBase = `${page.baseUrl}/fhir`;
  const entry = bundle.entry?.map((e) => {
    const resource = e.resource ? toPublicResource(e.resource) : undefined;
    return {
      ...e,
      ...(resource ? { resource } : {}),
      ...(resource?.id
        ? { fullUrl: `${fhirBase}/${resource.resourceType}/${resource.id}` }
        : { fullUrl: undefined }),
    };
  });
  const link = bundle.link?.length
    ? rewriteLinks(bundle.link, fhirBase, page.path)
    : computeLinks(bundle, page);
  const { link: _l, entry: _e, ...rest } = bundle;
  return { ...rest, ...(link.length ? { link } : {}), ...(entry?.length ? { entry } : {}) };
}

function pageUrl(fhirBase: string, path: string, query: URLSearchParams): string {
  const search = query.toString();
  return `${fhirBase}/${path}${search ? `?${search}` : ''}`;
}

function rewriteLinks(links: BundleLink[], fhirBase: string, path: string): BundleLink[] {
  return links.map((l) => {
    let query: URLSearchParams;
    try {
      query = new URL(l.url).searchParams;
    } catch {
      query = new URLSearchParams();
    }
    for (const param of STORE_INTERNAL_SEARCH_PARAMS) query.delete(param);
    return { relation: l.relation, url: pageUrl(fhirBase, path, query) };
  });
}

function computeLinks(bundle: Bundle, page: SearchPage): BundleLink[] {
  const fhirBase = `${page.baseUrl}/fhir`;
  const links: BundleLink[] = [{ relation: 'self', url: pageUrl(fhirBase, page.path, page.query) }];
  const count = Number(page.query.get('_count'));
  const offset = Number(page.query.get('_offset') ?? 0);
  if (!['searchset', 'history'].includes(bundle.type) || !Number.isFinite(count) || count <= 0) return links;
  const at = (o: number): string => {
    const q = new URLSearchParams(page.query);
    q.set('_offset', String(o));
    return pageUrl(fhirBase, page.path, q);
  };
  if (offset > 0) links.push({ relation: 'previous', url: at(Math.max(0, offset - count)) });
  if (bundle.total !== undefined && offset + count < bundle.total) {
    links.push({ relation: 'next', url: at(offset + count) });
  }
  return links;
}
