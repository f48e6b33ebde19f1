import type { Context } from 'hono';
import { preferences } from '../fhir/prefer-header.ts';
import type { SearchHandling } from '../resources/read-resources.ts';
import type { AppEnv } from './env.ts';

/**
 * `Prefer: handling=lenient|strict` (https://hl7.org/fhir/R4/search.html#errors): strict unless
 * lenient is asked for, so that a search never answers another question than the one sent.
 */
export function searchHandling(c: Context<AppEnv>): SearchHandling {
  return { lenient: preferences(c.req.header('prefer')).get('handling') === 'lenient' };
}
