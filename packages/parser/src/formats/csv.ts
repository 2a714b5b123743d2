import { CsvError, parse } from 'csv-parse';
import { MalformedInputError, ParserError, RecordTooLargeError } from '../errors.js';
import { type Extractor, RawJsonSpans } from './types.js';

const QUOTE = 0x22;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * The input from the start of the record being parsed, so an error can be located exactly:
 * csv-parse reports where the record began (`bytes_records`) but not where the error is, and
 * its line count takes a CRLF for two lines. Chunks before the last record read are dropped.
 */
class RecordWindow {
  private chunks: Buffer[] = [];
  /** Offset of the first held byte, and the 1-based line it is on. */
  private start = 0;
  private startLine = 1;

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  /** Drops the chunks that end at or before `offset` (a record that has been read). */
  release(offset: number): void {
    while (this.chunks.length > 1) {
      const first = this.chunks[0];
      if (first === undefined || this.start + first.length > offset) break;
      this.startLine += countLineFeeds(first);
      this.start += first.length;
      this.chunks.shift();
    }
  }

  /** The held bytes from `offset` on, or undefined when they were dropped. */
  from(offset: number): Buffer | undefined {
    if (offset < this.start) return undefined;
    return Buffer.concat(this.chunks).subarray(offset - this.start);
  }

  lineAt(offset: number): number {
    const held = Buffer.concat(this.chunks).subarray(0, offset - this.start);
    return this.startLine + countLineFeeds(held);
  }
}

function countLineFeeds(bytes: Buffer): number {
  let count = 0;
  for (let at = bytes.indexOf(LINE_FEED); at !== -1; at = bytes.indexOf(LINE_FEED, at + 1)) {
    count += 1;
  }
  return count;
}

const isLineEnd = (byte: number | undefined) => byte === LINE_FEED || byte === CARRIAGE_RETURN;

type Found = { readonly at: number; readonly found: boolean };

/** Scans one record from `start`: the problem `code` names if it is in it, else the record's end. */
function scanRecord(bytes: Buffer, start: number, code: string, delimiter: number): Found {
  let at = start;
  while (at < bytes.length) {
    if (bytes[at] === QUOTE) {
      const opening = at;
      at += 1;
      for (;;) {
        if (at >= bytes.length) {
          return { at: opening, found: code === 'CSV_QUOTE_NOT_CLOSED' };
        }
        if (bytes[at] === QUOTE) {
          if (bytes[at + 1] === QUOTE) {
            at += 2;
            continue;
          }
          at += 1;
          break;
        }
        at += 1;
      }
      const next = bytes[at];
      if (next !== undefined && next !== delimiter && !isLineEnd(next)) {
        if (code === 'CSV_INVALID_CLOSING_QUOTE') return { at, found: true };
        // Relaxed: the rest of the field is kept as it is written.
        while (at < bytes.length && bytes[at] !== delimiter && !isLineEnd(bytes[at])) at += 1;
      }
    } else {
      while (at < bytes.length && bytes[at] !== delimiter && !isLineEnd(bytes[at])) {
        if (bytes[at] === QUOTE && code === 'INVALID_OPENING_QUOTE') return { at, found: true };
        at += 1;
      }
    }
    if (at >= bytes.length || isLineEnd(bytes[at])) break;
    at += 1;
  }
  return { at, found: false };
}

function skipLineEnds(bytes: Buffer, start: number): number {
  let at = start;
  while (isLineEnd(bytes[at])) at += 1;
  return at;
}

/**
 * Where in `bytes` (from a record's start, as csv-parse counts records) the problem it
 * reported is: the opening quote of a field never closed, the byte after a closing quote
 * not followed by a delimiter, a quote inside an unquoted field (strict mode); else the
 * record's first byte. Empty lines before the record (csv-parse skips them) are stepped
 * over, and so is the header row when `afterHeader` (csv-parse does not count it).
 */
export function offsetInRecord(
  bytes: Buffer,
  code: string,
  delimiter: number,
  afterHeader = false,
): number {
  let start = skipLineEnds(bytes, 0);
  if (afterHeader) start = skipLineEnds(bytes, scanRecord(bytes, start, '', delimiter).at);
  const scanned = scanRecord(bytes, start, code, delimiter);
  return scanned.found ? scanned.at : start;
}

function failure(
  error: unknown,
  format: string,
  maxRecordBytes: number,
  window: RecordWindow,
  settings: { delimiter: string; header: boolean; recordsRead: number; keys: readonly string[] },
): Error {
  if (error instanceof ParserError) return error;
  if (error instanceof CsvError) {
    const details = error as CsvError & { records?: number; bytes_records?: number };
    const recordStart = details.bytes_records;
    const held = typeof recordStart === 'number' ? window.from(recordStart) : undefined;
    let location: { line?: number; record?: number; byteOffset?: number } = {
      ...(typeof details.records === 'number' ? { record: details.records } : {}),
    };
    if (held !== undefined && typeof recordStart === 'number') {
      // Before the first record, csv-parse's count of bytes does not include the header row.
      const afterHeader = settings.header && settings.recordsRead === 0 && recordStart === 0;
      const byteOffset =
        recordStart +
        offsetInRecord(held, error.code, settings.delimiter.charCodeAt(0), afterHeader);
      location = { line: window.lineAt(byteOffset), ...location, byteOffset };
    }
    if (error.code === 'CSV_MAX_RECORD_SIZE') {
      return new RecordTooLargeError(format, maxRecordBytes, location);
    }
    // csv-parse knows the columns by position (see csv): name them as the header does.
    const message = error.message.replace(
      /field "c(\d+)"/g,
      (text, index: string) => `field ${settings.keys[Number(index)] ?? text}`,
    );
    return new MalformedInputError(format, `${error.code}: ${message}`, location);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** The synchronous core of a csv-parse 6.2 `Parser` (its `api`), which the stream wraps. */
interface CsvCore {
  readonly info: { readonly bytes: number };
  parse(
    bytes: Buffer | undefined,
    end: boolean,
    push: (record: unknown) => void,
    close: () => void,
  ): Error | undefined;
}

/**
 * A string JSON.stringify would escape: a quote, a backslash, a control character, or a lone
 * surrogate (written as a `\\u` escape). Any other string is written as it is, in quotes.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters JSON must escape.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * A batch of records written as compact JSON straight into one buffer (no string per record):
 * objects with the header's names in column order, or arrays of fields.
 */
class RecordJson {
  private bytes = Buffer.allocUnsafe(64 * 1024);
  private used = 0;
  private starts: number[] = [];
  private ends: number[] = [];

  get size(): number {
    return this.starts.length;
  }

  /** An object of the fields the row has: `keys[i]` is column i's `"name":` as bytes. */
  object(
    record: Record<string, unknown>,
    keys: readonly Buffer[],
    positions: readonly string[],
  ): void {
    this.starts.push(this.used);
    this.byte(0x7b); // {
    let first = true;
    for (let i = 0; i < positions.length; i += 1) {
      const value = record[positions[i] as string];
      const key = keys[i];
      if (value === undefined || key === undefined) continue;
      if (!first) this.byte(0x2c); // ,
      first = false;
      this.room(key.length);
      this.used += key.copy(this.bytes, this.used);
      this.value(value);
    }
    this.byte(0x7d); // }
    this.ends.push(this.used);
  }

  /** An array of fields (`header: false`). */
  array(fields: readonly unknown[]): void {
    this.starts.push(this.used);
    this.byte(0x5b); // [
    fields.forEach((field, i) => {
      if (i > 0) this.byte(0x2c);
      this.value(field);
    });
    this.byte(0x5d); // ]
    this.ends.push(this.used);
  }

  take(): RawJsonSpans {
    const spans = new RawJsonSpans(
      this.bytes.subarray(0, this.used),
      this.starts,
      this.ends,
      'compact',
    );
    this.bytes = Buffer.allocUnsafe(this.bytes.length);
    this.used = 0;
    this.starts = [];
    this.ends = [];
    return spans;
  }

  private value(value: unknown): void {
    if (typeof value === 'string' && !NEEDS_ESCAPE.test(value)) {
      this.room(value.length * 3 + 2);
      this.bytes[this.used] = 0x22;
      this.used += this.bytes.write(value, this.used + 1, 'utf8') + 2;
      this.bytes[this.used - 1] = 0x22;
      return;
    }
    const text = JSON.stringify(value) ?? 'null';
    this.room(text.length * 3);
    this.used += this.bytes.write(text, this.used, 'utf8');
  }

  private byte(byte: number): void {
    this.room(1);
    this.bytes[this.used] = byte;
    this.used += 1;
  }

  private room(bytes: number): void {
    if (this.used + bytes <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + bytes));
    this.bytes.copy(grown, 0, 0, this.used);
    this.bytes = grown;
  }
}

function coreOf(parser: object): CsvCore {
  const core = (parser as { api?: CsvCore }).api;
  if (core === undefined || typeof core.parse !== 'function') {
    throw new Error(
      'csv-parse has no synchronous core (api.parse): pin the version it was written for',
    );
  }
  return core;
}

/**
 * The record keys for a header row: each name as written, except that a name already taken
 * gets `.1`, `.2`, … (the first free one), as pandas names repeated columns, so no column is
 * ever dropped (`a,a,b` gives `a`, `a.1`, `b`). Quoted JSON strings, ready to write.
 */
export function headerKeys(names: readonly unknown[]): string[] {
  const taken = new Set<string>();
  const all = new Set(names.map(String));
  return names.map((raw) => {
    const name = String(raw);
    let key = name;
    if (taken.has(key)) {
      let n = 1;
      while (taken.has(`${name}.${n}`) || all.has(`${name}.${n}`)) n += 1;
      key = `${name}.${n}`;
    }
    taken.add(key);
    return JSON.stringify(key);
  });
}

/**
 * CSV with quoted fields. By default the first row names the columns and each
 * record is an object, its keys in column order, every name kept (`__proto__` too) and a
 * repeated name renamed (see headerKeys); with `header: false` each record is an array of
 * fields.
 *
 * A quote inside an unquoted field (`5" disk`) is kept as a character, as Python's csv
 * module and pandas read it; `strict: true` rejects it. Rows with more or fewer fields
 * than the header are rejected unless `relaxColumnCount: true`.
 *
 * csv-parse's own parser is driven one input chunk at a time (its stream is a thin wrapper
 * around the same call), and the records of a chunk go on together: no stream object-mode
 * buffer, no per-record await, no per-record `info` object. csv-parse names the columns by
 * position (`c0`, `c1`, …: no name can collide or reach `Object.prototype`) and each record's
 * JSON is written here with the header's names.
 */
export const csv: Extractor = async function* csv(input, context) {
  const delimiter = context.options.delimiter ?? ',';
  const strict = context.options.strict === true;
  const header = context.options.header ?? true;
  let recordsRead = 0;
  let keys: string[] = [];
  let keyBytes: Buffer[] = [];
  let positions: string[] = [];
  const core = coreOf(
    parse({
      columns: header
        ? (names: unknown[]) => {
            keys = headerKeys(names);
            keyBytes = keys.map((key) => Buffer.from(`${key}:`, 'utf8'));
            positions = names.map((_, i) => `c${i}`);
            return positions;
          }
        : false,
      delimiter,
      bom: true,
      skip_empty_lines: true,
      max_record_size: context.maxRecordBytes,
      relax_quotes: !strict,
      relax_column_count: context.options.relaxColumnCount === true,
    }),
  );
  const window = new RecordWindow();
  const records = new RecordJson();
  let lastRecordEnd = 0;
  const push = (record: unknown) => {
    if (header) records.object(record as Record<string, unknown>, keyBytes, positions);
    else records.array(record as unknown[]);
    // At a push, csv-parse's byte count is the end of the record just read.
    lastRecordEnd = core.info.bytes;
  };
  const close = () => {};
  const fail = (error: unknown) =>
    failure(error, context.format, context.maxRecordBytes, window, {
      delimiter,
      header,
      recordsRead,
      keys,
    });
  const take = (): RawJsonSpans => {
    recordsRead += records.size;
    window.release(lastRecordEnd);
    return records.take();
  };
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    window.add(bytes);
    let error: unknown;
    try {
      error = core.parse(bytes, false, push, close);
    } catch (thrown) {
      error = thrown;
    }
    if (error !== undefined) throw fail(error);
    if (records.size > 0) yield take();
  }
  let error: unknown;
  try {
    error = core.parse(undefined, true, push, close);
  } catch (thrown) {
    error = thrown;
  }
  if (error !== undefined) throw fail(error);
  if (records.size > 0) yield take();
};
