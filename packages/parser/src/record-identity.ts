import { hash } from 'node:crypto';
import { keyFieldTokens, type RecordKey } from '@fanout/shared';
import { RecordKeyError } from './errors.js';

/**
 * Hex digits of a record's hash: the first 64 bits of the SHA-256 of its bytes. 64 bits, not
 * 128: the hash's digits are the one part of a line that does not compress, and on small
 * records 128 bits cost a third more parser time and output (see the README, "Record
 * identity"); two versions of one key collide with odds of 2^-64, and records identified by
 * their hash alone only past billions of distinct records of one source.
 */
export const RECORD_HASH_HEX_DIGITS = 16;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * The content hash of a record: the first 16 hex digits (64 bits) of the SHA-256 of the
 * record's bytes exactly as stored on its line (after `"record":`, before the closing `}`),
 * so anyone can compute it again from a parsed object (`sha256sum | cut -c1-16`).
 */
export function recordHash(record: Uint8Array | string): string {
  return hash('sha256', record, 'hex').slice(0, RECORD_HASH_HEX_DIGITS);
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * Writes `recordHash(record)` as bytes into `target` at `at` (RECORD_HASH_HEX_DIGITS of them),
 * and again at `copyAt` when given: the writer's way, which makes no string per record. The
 * digest is taken as a 'binary' (latin1) string, one character per byte: of node's one-shot outputs
 * the cheapest per call, where a Buffer costs about three times as much.
 */
export function writeRecordHash(
  record: Uint8Array,
  target: Uint8Array,
  at: number,
  copyAt = -1,
): void {
  const digest = hash('sha256', record, 'binary');
  for (let i = 0; i < RECORD_HASH_HEX_DIGITS / 2; i += 1) {
    const byte = digest.charCodeAt(i);
    const high = HEX_DIGITS[byte >> 4] as number;
    const low = HEX_DIGITS[byte & 0x0f] as number;
    target[at + 2 * i] = high;
    target[at + 2 * i + 1] = low;
    if (copyAt >= 0) {
      target[copyAt + 2 * i] = high;
      target[copyAt + 2 * i + 1] = low;
    }
  }
}

/** Index just past the string whose opening quote is at `at`. */
function stringEnd(bytes: Uint8Array, at: number, end: number): number {
  let i = at + 1;
  while (i < end) {
    const byte = bytes[i];
    if (byte === QUOTE) return i + 1;
    i += byte === BACKSLASH ? 2 : 1;
  }
  return end;
}

/** Index just past the value that starts at `at` (compact JSON: no whitespace between tokens). */
function valueEnd(bytes: Uint8Array, at: number, end: number): number {
  const first = bytes[at];
  if (first === QUOTE) return stringEnd(bytes, at, end);
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    let i = at;
    while (i < end) {
      const byte = bytes[i];
      if (byte === COMMA || byte === CLOSE_BRACE || byte === CLOSE_BRACKET) break;
      i += 1;
    }
    return i;
  }
  let depth = 0;
  let i = at;
  while (i < end) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      i = stringEnd(bytes, i, end);
      continue;
    }
    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth += 1;
    else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth -= 1;
      if (depth === 0) return i + 1;
    }
    i += 1;
  }
  return end;
}

/** The text of the string token `bytes[start, end)` (quotes included). */
function stringText(bytes: Uint8Array, start: number, end: number): string {
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset + start + 1, end - start - 2);
  return raw.includes(BACKSLASH)
    ? (JSON.parse(`"${raw.toString('utf8')}"`) as string)
    : raw.toString('utf8');
}

/** Where the value at `tokens` is in the compact JSON `bytes[start, end)`, if anywhere. */
export function locate(
  bytes: Uint8Array,
  start: number,
  end: number,
  tokens: readonly string[],
): [number, number] | undefined {
  let from = start;
  let to = end;
  for (const token of tokens) {
    const open = bytes[from];
    let found: [number, number] | undefined;
    let at = from + 1;
    if (open === OPEN_BRACE) {
      while (at < to && bytes[at] !== CLOSE_BRACE) {
        const keyEnd = stringEnd(bytes, at, to);
        const matches = stringText(bytes, at, keyEnd) === token;
        const valueStart = keyEnd + 1; // past the colon
        const valueStop = valueEnd(bytes, valueStart, to);
        // The first of duplicated keys counts.
        if (matches && bytes[keyEnd] === COLON) {
          found = [valueStart, valueStop];
          break;
        }
        at = bytes[valueStop] === COMMA ? valueStop + 1 : valueStop;
      }
    } else if (open === OPEN_BRACKET && /^(0|[1-9]\d*)$/.test(token)) {
      const wanted = Number(token);
      for (let index = 0; at < to && bytes[at] !== CLOSE_BRACKET; index += 1) {
        const valueStop = valueEnd(bytes, at, to);
        if (index === wanted) {
          found = [at, valueStop];
          break;
        }
        at = bytes[valueStop] === COMMA ? valueStop + 1 : valueStop;
      }
    }
    if (found === undefined) return undefined;
    [from, to] = found;
  }
  return [from, to];
}

interface KeyField {
  readonly field: string;
  readonly tokens: readonly string[];
}

/**
 * The identity of the records of one source: its declared key fields, or none (the identity is
 * then the content hash). `key` gives the `key` column's value for a record, which the parser
 * writes as a JSON string: with one key field, a string value's text or the JSON text of a
 * number or boolean (`"42"` and `42` are the same key); with several, a JSON array of them
 * (`["us",42]`, a missing or null field as `null`). A record whose key is missing, null, an
 * object or an array throws RecordKeyError: the record cannot be identified as declared.
 */
export class RecordIdentity {
  private readonly fields: readonly KeyField[];

  constructor(key: RecordKey | undefined) {
    this.fields = (key ?? []).map((field) => ({ field, tokens: keyFieldTokens(field) ?? [field] }));
  }

  get declared(): boolean {
    return this.fields.length > 0;
  }

  /** The `key` of the compact JSON record `bytes[start, end)`, `record` its index for errors. */
  key(bytes: Uint8Array, start: number, end: number, record: number): string {
    const parts: string[] = [];
    let present = 0;
    for (const { field, tokens } of this.fields) {
      const at = locate(bytes, start, end, tokens);
      const first = at === undefined ? undefined : bytes[at[0]];
      if (at === undefined || first === 0x6e /* null */) {
        parts.push('null');
        continue;
      }
      if (first === OPEN_BRACE || first === OPEN_BRACKET) {
        throw new RecordKeyError(
          record,
          `its key field ${JSON.stringify(field)} is ${first === OPEN_BRACE ? 'an object' : 'an array'}; a key is made of strings, numbers or booleans`,
        );
      }
      const single = this.fields.length === 1;
      if (first === QUOTE) {
        // Strings count by their text, so two spellings of one string are one key.
        const text = stringText(bytes, at[0], at[1]);
        parts.push(single ? text : JSON.stringify(text));
      } else {
        parts.push(
          Buffer.from(bytes.buffer, bytes.byteOffset + at[0], at[1] - at[0]).toString('utf8'),
        );
      }
      present += 1;
    }
    if (present === 0) {
      const names = this.fields.map((f) => JSON.stringify(f.field)).join(', ');
      throw new RecordKeyError(
        record,
        `it has no value at its key field${this.fields.length > 1 ? 's' : ''} ${names} (missing or null)`,
      );
    }
    return this.fields.length === 1 ? (parts[0] ?? '') : `[${parts.join(',')}]`;
  }
}
