/** A request's answer as compared: status, headers and the parsed body. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

function walk(node: unknown, visit: (node: object) => void): void {
  if (Array.isArray(node)) for (const item of node) walk(item, visit);
  else if (node && typeof node === 'object') {
    visit(node);
    for (const value of Object.values(node)) walk(value, visit);
  }
}

const UUID_ANYWHERE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const INSTANT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g;
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** Headers that differ between any two runs and say nothing of the data. */
const UNCOMPARED_HEADERS = new Set(['x-request-id', 'date', 'content-length']);

/**
 * An answer with what a server makes up replaced: every server id (a UUID) by its order of first
 * appearance in this world's answers, every instant by one token, request ids and dates dropped.
 * Two worlds whose answers are alike but for ids and times normalise to the same text.
 */
export class Normaliser {
  private readonly ids = new Map<string, string>();

  normalise(answer: Answer): Answer {
    const text = (value: string) =>
      value
        .replace(UUID_ANYWHERE, (id) => {
          let name = this.ids.get(id);
          if (!name) {
            name = `<id${this.ids.size + 1}>`;
            this.ids.set(id, name);
          }
          return name;
        })
        .replace(INSTANT, '<instant>');
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(answer.headers)) {
      if (UNCOMPARED_HEADERS.has(key)) continue;
      headers[key] = HTTP_DATE.test(value) ? '<date>' : text(value);
    }
    const body = JSON.parse(text(JSON.stringify(answer.body ?? null)));
    return { status: answer.status, headers, body: stripRequestIds(body) };
  }
}

/** Request ids are made per request (they appear in OperationOutcomes and Provenance). */
function stripRequestIds(body: unknown): unknown {
  walk(body, (node) => {
    const record = node as Record<string, unknown>;
    if (record.system === 'https://fhir.social-prescribing.example.org/Id/request-id' && 'value' in record)
      record.value = '<request-id>';
  });
  return body;
}
