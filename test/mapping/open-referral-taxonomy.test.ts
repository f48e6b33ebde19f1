import type { HealthcareService } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { ACTIVITY_CATEGORIES } from '../../src/fhir/terminology.ts';
import { CATEGORY_KEYWORDS, mapOpenReferral } from '../../src/mapping/open-referral.ts';

const OWN_TAXONOMY = 'https://fhir.social-prescribing.example.org/CodeSystem/open-referral-taxonomy';

/** The service mapped from one with these taxonomy terms (HSDS 3 attributes). */
function withTerms(...terms: Record<string, unknown>[]): HealthcareService {
  const feed = mapOpenReferral({
    id: 's',
    name: 'Service',
    attributes: terms.map((taxonomy_term) => ({ taxonomy_term })),
  });
  expect(feed.refused).toEqual([]);
  return feed.records[0]?.resource as HealthcareService;
}

const categoriesOf = (...names: string[]) =>
  withTerms(...names.map((name, i) => ({ id: `t${i}`, name }))).category?.map((c) => c.coding?.[0]?.code);

describe('activity categories from taxonomy term names', () => {
  it('uses only codes of the activity category code system, each once', () => {
    const codes = CATEGORY_KEYWORDS.map(([code]) => code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes).toEqual(ACTIVITY_CATEGORIES.concept?.map((c) => c.code));
  });

  it.each([
    ['Walking groups', 'physical-activity'],
    ['Sport', 'physical-activity'],
    ['Exercise classes', 'physical-activity'],
    ['Arts and crafts', 'arts-and-culture'],
    ['Community choir', 'arts-and-culture'],
    ['Gardening', 'nature-and-green'],
    ['Befriending', 'social-connection'],
    ['Loneliness and isolation', 'social-connection'],
    ['Volunteering opportunities', 'volunteering'],
    ['Adult learning', 'learning-and-skills'],
    ['Digital skills', 'learning-and-skills'],
    ['Employment support', 'employment-support'],
    ['Debt advice', 'money-and-debt'],
    ['Welfare benefits', 'money-and-debt'],
    ['Money management', 'money-and-debt'],
    ['Homelessness', 'housing-support'],
    ['Housing advice', 'housing-support'],
    ['Support for carers', 'carer-support'],
    ['Mental health', 'mental-wellbeing'],
    ['Counselling', 'mental-wellbeing'],
    ['Long Term Health Conditions', 'health-and-self-care'],
    ['Stop smoking', 'health-and-self-care'],
    ['Food bank', 'practical-support'],
    ['Community transport', 'practical-support'],
  ])('%s → %s', (name, code) => {
    expect(categoriesOf(name)).toEqual([code]);
  });

  it.each(['Children', 'Learning disabilities', 'Social care', 'Partnership', 'Heart health', 'name'])(
    '%s gives no category',
    (name) => {
      expect(withTerms({ id: 't', name }).category).toBeUndefined();
    },
  );

  it('unions the categories of all terms, in the code system order', () => {
    expect(categoriesOf('Debt advice', 'Walking', 'Befriending', 'Walking football')).toEqual([
      'physical-activity',
      'social-connection',
      'money-and-debt',
    ]);
  });
});

describe('taxonomy terms as HealthcareService.type', () => {
  const coding = (term: Record<string, unknown>) => withTerms(term).type?.[0]?.coding?.[0];

  it('takes the taxonomy URI first, then an absolute vocabulary, then the term URI', () => {
    expect(
      coding({
        id: 't',
        code: 'c',
        name: 'N',
        taxonomy_detail: { uri: 'https://taxonomy.example.org/scheme' },
        vocabulary: 'https://vocabulary.example.org',
        term_uri: 'https://taxonomy.example.org/scheme/c',
      }),
    ).toEqual({ system: 'https://taxonomy.example.org/scheme', code: 'c', display: 'N' });
    expect(
      coding({ id: 't', name: 'N', vocabulary: 'urn:example:v', term_uri: 'https://x.example/t' }),
    ).toEqual({
      system: 'urn:example:v',
      code: 't',
      display: 'N',
    });
    expect(coding({ id: 't', name: 'N', taxonomy: 'Local', term_uri: 'https://x.example/terms/t' })).toEqual({
      system: 'https://x.example/terms/t',
      code: 't',
      display: 'N',
    });
  });

  it('drops the fragment of a term URI (OpenActive: scheme#concept)', () => {
    expect(
      coding({
        id: 'c16df6ed-a4a0-4275-a8c3-1c8cff56856f',
        name: 'Walking',
        term_uri: 'https://openactive.io/activity-list#c16df6ed-a4a0-4275-a8c3-1c8cff56856f',
      }),
    ).toEqual({
      system: 'https://openactive.io/activity-list',
      code: 'c16df6ed-a4a0-4275-a8c3-1c8cff56856f',
      display: 'Walking',
    });
  });

  it('makes our own system from a vocabulary name that is no URI', () => {
    expect(coding({ id: 'esd:123', name: 'N', vocabulary: ' ESD Service Types (2024) ' })?.system).toBe(
      `${OWN_TAXONOMY}/esd-service-types-2024`,
    );
    expect(coding({ id: 'x', name: 'N', vocabulary: 'esd:services' })?.system).toBe(
      `${OWN_TAXONOMY}/esd-services`,
    );
    expect(coding({ id: 'x', name: 'N', vocabulary: '***' })?.system).toBe(OWN_TAXONOMY);
    expect(coding({ id: 'x', name: 'N' })?.system).toBe(OWN_TAXONOMY);
  });

  it('codes by the term code, else its id (numbers too), and leaves out a term with neither', () => {
    expect(coding({ id: 'i', code: 'c', name: 'N' })?.code).toBe('c');
    expect(coding({ id: 'i', code: ' ', name: 'N' })?.code).toBe('i');
    expect(coding({ id: 7, name: 'N' })?.code).toBe('7');
    expect(coding({ id: 'i', term: 'Shown by term' })?.display).toBe('Shown by term');
    expect(withTerms({ name: 'No code' }).type).toBeUndefined();
  });

  it('keeps a term repeated under several links once', () => {
    expect(
      withTerms({ id: 'a', name: 'A' }, { id: 'a', name: 'A' }, { id: 'b', name: 'B' }).type,
    ).toHaveLength(2);
  });
});
