import type { CodeableConcept } from '@medplum/fhirtypes';
import { ACTIVITY_CATEGORIES, displayOf } from '../../fhir/terminology.ts';

/** A pattern matching any of the keywords (regular expression fragments) at the start of a word. */
function startOfWord(keywords: string): RegExp {
  return new RegExp(
    `\\b(${keywords
      .trim()
      .split(/\s*,\s*/)
      .join('|')})`,
    'i',
  );
}

/**
 * Which of our activity categories a taxonomy term's name points to, by keywords matched at the
 * start of a word, in any case (`\b` ends a whole word). Deliberately small and explicit: a term
 * that matches nothing gives no category, and a service's categories are the union over its terms.
 */
export const CATEGORY_KEYWORDS: readonly (readonly [code: string, keywords: RegExp])[] = [
  [
    'arts-and-culture',
    startOfWord(
      'arts?\\b, craft, music, sing(ing)?\\b, choir, drama, theatre, museum, heritage, cultur, creative',
    ),
  ],
  [
    'physical-activity',
    startOfWord(
      'walk, sport, exercis, fitness, physical activit, swim, cycl, yoga, danc, football, keep fit',
    ),
  ],
  [
    'nature-and-green',
    startOfWord('garden, allotment, nature\\b, conservation, green (space|gym), outdoor, countryside'),
  ],
  [
    'social-connection',
    startOfWord('befriend, lonel, isolat, social (group|club|activit), peer support, lunch club, friendship'),
  ],
  ['volunteering', startOfWord('volunteer')],
  [
    'learning-and-skills',
    // "Learning disabilities" names who a service is for, not learning.
    startOfWord(
      'learn(?!ing disabilit), course, training\\b, education, skills?\\b, literacy, numeracy, esol\\b',
    ),
  ],
  ['employment-support', startOfWord('employ, unemploy, jobs?\\b, careers?\\b, back to work')],
  [
    'money-and-debt',
    startOfWord('debt, benefits?\\b, money, financ, budget, welfare rights, cost of living'),
  ],
  ['housing-support', startOfWord('housing, homeless, tenan, accommodation')],
  ['carer-support', startOfWord('carers?\\b, caring\\b, respite')],
  [
    'mental-wellbeing',
    startOfWord(
      'mental (health|wellbeing|well-being), wellbeing, well-being, anxiety, depression, stress, ' +
        'counsell?ing, talking therap, bereave, mindful',
    ),
  ],
  [
    'health-and-self-care',
    startOfWord(
      'self[- ]?(care|management), healthy (lifestyle|eating|living), weight, smoking, nutrition, diabet, ' +
        'long[- ]term (health )?condition, health check, alcohol',
    ),
  ],
  [
    'practical-support',
    startOfWord('transport, food, shopping, practical, clothing, furniture, home (help|repair)'),
  ],
];

/** The activity categories the term names point to, in the code system's order, each once. */
export function activityCategories(termNames: readonly string[]): CodeableConcept[] {
  return CATEGORY_KEYWORDS.filter(([, keywords]) => termNames.some((name) => keywords.test(name))).map(
    ([code]) => {
      const display = displayOf(ACTIVITY_CATEGORIES, code);
      return { coding: [{ system: ACTIVITY_CATEGORIES.url, code, ...(display && { display }) }] };
    },
  );
}
