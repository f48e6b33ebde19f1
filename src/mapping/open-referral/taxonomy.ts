import type { CodeableConcept } from '@medplum/fhirtypes';
import { DIRECTORY_SYSTEM } from '../../fhir/systems.ts';
import { type FieldReader, idOrUndefined, isObject, type Json, objectsIn } from './fields.ts';

/** A service's taxonomy terms: v1 `service_taxonomys[].taxonomy`, HSDS 3 `attributes[].taxonomy_term`. */
export function taxonomyTerms(service: Json): Json[] {
  return [
    ...objectsIn(service.service_taxonomys).map(([link]) => link.taxonomy),
    ...objectsIn(service.attributes).map(([attribute]) => attribute.taxonomy_term),
  ].filter(isObject);
}

/** The name a term is shown by (HSDS 3 examples also carry it as `term`). */
export function termName(reader: FieldReader, term: Json): string | undefined {
  return reader.firstText([term.name, term.term], 'taxonomy term');
}

/**
 * A taxonomy term as a CodeableConcept: code the term's `code`, else its id; display its name.
 * The system is the first absolute URI among the taxonomy's own URI (`taxonomy_detail.uri`), the
 * vocabulary or taxonomy name, and the term's `term_uri` without its fragment (OpenActive's
 * `…/activity-list#<id>` is scheme and code); failing those, ours for the vocabulary's name.
 */
export function termConcept(reader: FieldReader, term: Json): CodeableConcept | undefined {
  const code = idOrUndefined(term.code) ?? idOrUndefined(term.id);
  if (!code) return undefined;
  const display = termName(reader, term);
  const detail = isObject(term.taxonomy_detail) ? term.taxonomy_detail : {};
  const uris = [detail.uri, term.vocabulary, term.taxonomy, term.term_uri].map((value) =>
    reader.text(value, 'taxonomy term'),
  );
  const uri = uris.find((value) => value !== undefined && ABSOLUTE_URI.test(value));
  const vocabulary = reader.firstText([term.vocabulary, term.taxonomy, detail.name], 'taxonomy term');
  const system = uri?.replace(/#.*$/, '') ?? ownSystem(vocabulary);
  return { coding: [{ system, code, ...(display && { display }) }] };
}

/** http(s) URLs and URNs: a bare `esd:123` would also parse as a URL but names no code system. */
const ABSOLUTE_URI = /^(https?:\/\/[^\s#]+|urn:[^\s]+)(#\S*)?$/i;

/** Our code system for a vocabulary that publishes no URI: its name in lower case, words joined by `-`. */
function ownSystem(vocabulary: string | undefined): string {
  const slug = (vocabulary ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return slug ? `${DIRECTORY_SYSTEM.openReferralTaxonomy}/${slug}` : DIRECTORY_SYSTEM.openReferralTaxonomy;
}
