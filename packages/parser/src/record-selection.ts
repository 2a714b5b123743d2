import {
  CURSOR_VALUE_MAX_CHARS,
  compareCursorValues,
  higherCursor,
  keyFieldTokens,
  type PageCursor,
} from '@fanout/shared';
import { locate } from './record-identity.js';

/**
 * Which records of a page get a line: every one, unless the source emits changes only
 * (`emit: "changes"`) or reads incrementally (`cursor`). The writer asks once per record,
 * after its key and hash are known, and leaves the record out when the answer is no.
 */
export interface RecordSelector {
  /** Whether the compact JSON record `bytes[start, end)` with this key and hash gets a line. */
  admit(
    record: Uint8Array,
    start: number,
    end: number,
    key: string | undefined,
    hash: string,
  ): boolean;
}

/**
 * A record's (key, hash) as one string: what `emit: "changes"` compares. The hash has a
 * fixed length, so putting the key after it is unambiguous; without a declared key the
 * key is the hash.
 */
export function recordPair(key: string | undefined, hash: string): string {
  return key === undefined ? hash : `${hash}${key}`;
}

const QUOTE = 0x22;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * The cursor value of a compact JSON record: the JSON text of a number at the field, as
 * written, or of a string (re-serialized, so two spellings of one string are one value).
 * Undefined for anything else (missing, null, a boolean, an object, an array) or a value
 * longer than a cursor may be.
 */
export function cursorValueOf(
  record: Uint8Array,
  start: number,
  end: number,
  tokens: readonly string[],
): string | undefined {
  const at = locate(record, start, end, tokens);
  if (at === undefined) return undefined;
  const first = record[at[0]] ?? 0;
  const text = Buffer.from(record.buffer, record.byteOffset + at[0], at[1] - at[0]).toString(
    'utf8',
  );
  let value: string | undefined;
  if (first === QUOTE) value = JSON.stringify(JSON.parse(text) as string);
  else if (first === MINUS || (first >= ZERO && first <= NINE)) value = text;
  return value !== undefined && value.length <= CURSOR_VALUE_MAX_CHARS ? value : undefined;
}

export interface FetchSelectionOptions {
  /** `emit: "changes"`: the (key, hash) pairs (`recordPair`) of the previous fetch's records. */
  readonly previous?: ReadonlySet<string>;
  /** The source's cursor: its field, and the highest value seen before this fetch. */
  readonly cursor?: PageCursor;
}

/**
 * The records of one fetch worth a line: above the cursor (when the source has one and a
 * value was seen before), and not produced by the previous fetch (emit: changes). A record
 * whose cursor value is missing, or cannot be compared with the one seen (a string where
 * numbers were), is kept (never dropped on a guess) and does not move the cursor.
 */
export class FetchSelection implements RecordSelector {
  /** Left out: the previous fetch produced them. */
  unchanged = 0;
  /** Left out: at or below the cursor. */
  notAfterCursor = 0;
  /** Kept with no comparable cursor value. */
  withoutCursor = 0;
  private highest: string | undefined;
  private readonly tokens: readonly string[] | undefined;

  constructor(private readonly options: FetchSelectionOptions) {
    const field = options.cursor?.field;
    this.tokens = field === undefined ? undefined : (keyFieldTokens(field) ?? [field]);
  }

  admit(
    record: Uint8Array,
    start: number,
    end: number,
    key: string | undefined,
    hash: string,
  ): boolean {
    if (this.tokens !== undefined && !this.afterCursor(record, start, end, this.tokens)) {
      return false;
    }
    if (this.options.previous?.has(recordPair(key, hash))) {
      this.unchanged += 1;
      return false;
    }
    return true;
  }

  /**
   * The cursor after this fetch's pages: the highest value among its records when it is
   * above the one the fetch started from, else that one (undefined when neither exists).
   */
  get cursor(): string | undefined {
    return higherCursor(this.options.cursor?.value, this.highest);
  }

  private afterCursor(
    record: Uint8Array,
    start: number,
    end: number,
    tokens: readonly string[],
  ): boolean {
    const value = cursorValueOf(record, start, end, tokens);
    const seen = this.options.cursor?.value;
    const order =
      value === undefined || seen === undefined ? undefined : compareCursorValues(value, seen);
    if (value === undefined || (seen !== undefined && order === undefined)) {
      this.withoutCursor += 1;
      return true;
    }
    this.raise(value);
    if (order !== undefined && order <= 0) {
      this.notAfterCursor += 1;
      return false;
    }
    return true;
  }

  private raise(value: string): void {
    if (this.highest === undefined) {
      this.highest = value;
      return;
    }
    const order = compareCursorValues(value, this.highest);
    if (order === undefined) this.withoutCursor += 1;
    else if (order > 0) this.highest = value;
  }
}

/** Most (key, hash) pairs kept of one source's previous fetch (about 80 bytes each in memory). */
export const PREVIOUS_RECORDS_MAX = 500_000;

/** A selector that writes nothing and keeps every record's (key, hash): a previous fetch read again. */
export class PairCollector implements RecordSelector {
  readonly pairs = new Set<string>();
  /** More records than PREVIOUS_RECORDS_MAX: the set is incomplete and must not be used. */
  overflowed = false;

  admit(
    _record: Uint8Array,
    _start: number,
    _end: number,
    key: string | undefined,
    hash: string,
  ): boolean {
    if (this.pairs.size < PREVIOUS_RECORDS_MAX) this.pairs.add(recordPair(key, hash));
    else this.overflowed = true;
    return false;
  }
}
