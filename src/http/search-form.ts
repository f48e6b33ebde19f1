import type { Context } from 'hono';
import { Failures } from '../fhir/outcomes.ts';
import type { AppEnv } from './env.ts';

/** A search form is a few parameters; anything larger is not a search. */
export const MAX_FORM_BYTES = 16 * 1024;
export const MAX_SEARCH_PARAMS = 100;

/**
 * The parameters of a search by POST: the URL's and the form's together
 * (https://hl7.org/fhir/R4/http.html#search). The form is read only up to MAX_FORM_BYTES, counted
 * on the stream, and a form of another media type is refused.
 */
export async function searchFormParams(c: Context<AppEnv>): Promise<URLSearchParams> {
  const params = new URL(c.req.url).searchParams;
  const mediaType = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  const form = await readBounded(c.req.raw);
  if (form.length > 0 && mediaType !== 'application/x-www-form-urlencoded')
    throw Failures.unsupportedMediaType();
  for (const [key, value] of new URLSearchParams(form)) params.append(key, value);
  if ([...params.keys()].length > MAX_SEARCH_PARAMS) {
    throw Failures.badRequest(`A search takes at most ${MAX_SEARCH_PARAMS} parameters`);
  }
  return params;
}

async function readBounded(request: Request): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_FORM_BYTES) {
      await reader.cancel();
      throw Failures.payloadTooLarge(MAX_FORM_BYTES);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
