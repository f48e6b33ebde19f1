/** A JSON object as a feed sends it: ORUK records carry many fields this mapping never reads. */
export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The objects of an array field with their positions; anything else in it, or a non-array, is skipped. */
export function objectsIn(value: unknown): [Json, number][] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item, i): [Json, number][] => (isObject(item) ? [[item, i]] : []));
}

/** Longest text stored per kind of field; a longer value refuses its record rather than being cut. */
export const LIMIT = { id: 200, name: 500, text: 10_000, value: 2_048 } as const;

/** Fixed refusal reasons (never a value from the feed, so nothing personal can reach a log). */
export const REFUSAL = {
  input: 'not an Open Referral service, organisation or list page',
  notObject: 'not an object',
  noId: 'no id',
  idTooLong: 'id too long',
  idType: 'id not a string or number',
  idCharacters: 'id holds a comma, |, $ or \\',
  noName: 'no name',
  coordinatesOutOfRange: 'coordinates out of range',
  coordinatesIncomplete: 'coordinates incomplete',
} as const;

/** The stored fields whose length is checked; each names its own refusal, `<label> too long`. */
export type FieldLabel =
  | 'name'
  | 'alternate name'
  | 'description'
  | 'email'
  | 'url'
  | 'phone'
  | 'address'
  | 'taxonomy term'
  | 'organisation identifier';

export function tooLong(label: FieldLabel): string {
  return `${label} too long`;
}

/**
 * An ORUK id: a string (trimmed) or a number, as feeds send both. The reason says why it cannot be
 * one; it is not echoed back, since an unusable id may be anything.
 */
export function readId(value: unknown): { id: string } | { reason: string } {
  if (value === undefined || value === null) return { reason: REFUSAL.noId };
  if (typeof value === 'number')
    return Number.isFinite(value) ? { id: String(value) } : { reason: REFUSAL.idType };
  if (typeof value !== 'string') return { reason: REFUSAL.idType };
  const id = value.trim();
  if (!id) return { reason: REFUSAL.noId };
  if (id.length > LIMIT.id) return { reason: REFUSAL.idTooLong };
  // What a FHIR token search reads as syntax cannot be found again reliably by every store.
  return /[,|$\\]/.test(id) ? { reason: REFUSAL.idCharacters } : { id };
}

/** The id when it is usable, else undefined (for links, where a bad id just means no link). */
export function idOrUndefined(value: unknown): string | undefined {
  const read = readId(value);
  return 'id' in read ? read.id : undefined;
}

/**
 * Reads the text fields of one record: trimmed, blanks and non-strings dropped, and the first
 * over-long field remembered as the reason to refuse the whole record.
 */
export class FieldReader {
  reason: string | undefined;

  text(value: unknown, label: FieldLabel, max: number = LIMIT.value): string | undefined {
    if (typeof value !== 'string') return undefined;
    const text = value.trim();
    if (!text) return undefined;
    if (text.length > max) {
      this.reason ??= tooLong(label);
      return undefined;
    }
    return text;
  }

  /** The first of the values that reads as text (feeds name the same thing differently). */
  firstText(values: unknown[], label: FieldLabel, max: number = LIMIT.value): string | undefined {
    for (const value of values) {
      const text = this.text(value, label, max);
      if (text !== undefined) return text;
    }
    return undefined;
  }
}
