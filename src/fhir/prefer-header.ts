/**
 * The preferences of a `Prefer` header (RFC 7240): each `name[=value]`, names case-blind, values
 * unquoted. A preference the server does not know is ignored, as RFC 7240 section 2 allows.
 */
export function preferences(header: string | undefined): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of (header ?? '').split(',')) {
    const [pair = ''] = part.split(';');
    const at = pair.indexOf('=');
    const name = (at < 0 ? pair : pair.slice(0, at)).trim().toLowerCase();
    const value =
      at < 0
        ? ''
        : pair
            .slice(at + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1');
    // The first of a repeated preference wins (RFC 7240 section 2).
    if (name && !found.has(name)) found.set(name, value);
  }
  return found;
}
