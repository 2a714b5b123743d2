import { ExtractorFailedError, MalformedInputError } from './errors.js';
import {
  compactJson,
  JSON_COMPACT,
  JSON_SPACED,
  JSON_TOO_DEEP,
  MAX_JSON_DEPTH,
  scanJsonValue,
} from './formats/json-validate.js';
import { RawJson, RawJsonSpans, RecordBatch } from './formats/types.js';
import { RECORD_HASH_HEX_DIGITS, type RecordIdentity, recordHash } from './record-identity.js';
import type { RecordSelector } from './record-selection.js';

/**
 * What every output line carries besides the record; all of it comes from the raw
 * object's metadata or the pack entry, never from the clock.
 */
export interface Envelope {
  readonly sourceId: string;
  readonly runId: string;
  /** The response page the records come from; 0 when absent (a single-page response). */
  readonly page?: number;
  readonly fetchedAt: string;
  /** A detail page (`follow`): its URL, and the URL of the page whose link led to it. */
  readonly detail?: { readonly url: string; readonly linkedFrom: string };
}

const HASH_COLUMN = Buffer.from(',"hash":"', 'latin1');
const RECORD_COLUMN = Buffer.from('","record":', 'latin1');

/**
 * Output lines are written in batches of about this many bytes: fewer stream writes and
 * zlib thread-pool round trips (256 KiB against 64 KiB: about a tenth less CPU on the
 * benchmark's NDJSON file stream, whose lines grew by their key and hash).
 */
const OUTPUT_BATCH_BYTES = 256 * 1024;
/** The first buffer: most objects (pack entries, small responses) fit in it. */
const FIRST_BUFFER_BYTES = 16 * 1024;

/**
 * Envelope prefix of every line, shaped for Athena's JSON SerDe: flat scalar columns
 * (`source`, `run`, `page`, `fetchedAt`, then `key` and `hash`, which follow it) and the
 * record last, as one JSON column. Key order is fixed and no value comes from the clock, so
 * the same raw object always gives the same bytes.
 */
export function envelopePrefix(envelope: Envelope): string {
  // Only a detail page's lines carry `url` and `linkedFrom`: every other line is as it was.
  const detail = envelope.detail
    ? `"url":${JSON.stringify(envelope.detail.url)},"linkedFrom":${JSON.stringify(envelope.detail.linkedFrom)},`
    : '';
  return `{"source":${JSON.stringify(envelope.sourceId)},"run":${JSON.stringify(envelope.runId)},"page":${envelope.page ?? 0},"fetchedAt":${JSON.stringify(envelope.fetchedAt)},${detail}"key":`;
}

export interface RecordLineOptions {
  readonly envelope: Envelope;
  readonly identity: RecordIdentity;
  readonly format: string;
  /**
   * Records the extractor built as objects are checked like RawJson (depth included):
   * for custom extractors, whose objects may be anything JSON.stringify writes.
   */
  readonly checkObjects: boolean;
  /** Which records get a line (emit: changes, a cursor); absent: every one. */
  readonly select?: RecordSelector;
}

/**
 * Output lines as bytes, in buffers of about OUTPUT_BATCH_BYTES:
 * `{<envelope>,"key":<key>,"hash":"<hash>","record":<record>}\n`. Every record is one JSON
 * value with no whitespace between its tokens, so no line holds a raw CR or LF. Records
 * already serialized as bytes are copied in without being decoded.
 */
export class RecordLineWriter {
  /** Allocated when a line needs it: small output (a pack entry) gets a small buffer. */
  private buffer = Buffer.allocUnsafe(0);
  private used = 0;
  private readonly prefix: Buffer;
  /** Size of the next buffer: small at first, OUTPUT_BATCH_BYTES once one was filled. */
  private nextBytes = FIRST_BUFFER_BYTES;
  private scratch = Buffer.allocUnsafe(0);
  /** Records taken, written or left out: the index of the next one, for error locations. */
  records = 0;
  /** Of those, records the selector left out. */
  dropped = 0;

  constructor(private readonly options: RecordLineOptions) {
    this.prefix = Buffer.from(envelopePrefix(options.envelope), 'utf8');
  }

  /** Writes what the extractor yielded; returns full buffers to pass on. */
  write(record: unknown, full: Buffer[]): void {
    if (record instanceof RawJsonSpans) {
      const { bytes, starts, ends, checked } = record;
      for (let i = 0; i < starts.length; i += 1) {
        const start = starts[i] ?? 0;
        const end = ends[i] ?? start;
        const state = checked === 'compact' ? JSON_COMPACT : checked?.[i];
        this.bytes(bytes, start, end, state, full);
      }
    } else if (record instanceof RecordBatch) {
      for (const each of record.records) this.value(each, full);
    } else {
      this.value(record, full);
    }
    if (this.used >= OUTPUT_BATCH_BYTES) {
      const rest = this.take();
      if (rest) full.push(rest);
    }
  }

  /** The bytes written so far (undefined when none), and a fresh buffer for what follows. */
  take(): Buffer | undefined {
    if (this.used === 0) return undefined;
    const full = this.buffer.subarray(0, this.used);
    // The next buffer is allocated by the next line; a full one says output is large.
    this.buffer = Buffer.allocUnsafe(0);
    this.nextBytes = OUTPUT_BATCH_BYTES;
    this.used = 0;
    return full;
  }

  private value(record: unknown, full: Buffer[]): void {
    if (record instanceof RawJson) {
      const bytes = Buffer.from(record.text, 'utf8');
      this.bytes(bytes, 0, bytes.length, undefined, full);
      return;
    }
    let text: string | undefined;
    try {
      text = JSON.stringify(record);
    } catch (error) {
      // A cycle, a BigInt, nesting too deep for the stack: this record, not the parser.
      throw new ExtractorFailedError(
        this.options.format,
        error instanceof Error ? error : new Error(String(error)),
        { record: this.records },
      );
    }
    if (text === undefined) {
      throw new ExtractorFailedError(
        this.options.format,
        new TypeError(`yielded a value that is not JSON (${typeof record})`),
        { record: this.records },
      );
    }
    this.text(text, full);
  }

  /** A record as compact JSON text (JSON.stringify's, or an extractor's checked text). */
  private text(text: string, full: Buffer[]): void {
    if (this.options.checkObjects || this.options.identity.declared) {
      const bytes = Buffer.from(text, 'utf8');
      this.bytes(
        bytes,
        0,
        bytes.length,
        this.options.checkObjects ? undefined : JSON_COMPACT,
        full,
      );
      return;
    }
    // With the hash as key, everything before the record has a fixed length: the record is
    // written in place first and hashed there (hashing the string would encode it again).
    const before =
      this.prefix.length +
      HASH_COLUMN.length +
      RECORD_COLUMN.length +
      2 +
      2 * RECORD_HASH_HEX_DIGITS;
    this.reserve(before + text.length * 3 + 2, full);
    const recordAt = this.used + before;
    const end = recordAt + this.buffer.write(text, recordAt, 'utf8');
    const hash = recordHash(this.buffer.subarray(recordAt, end));
    if (this.leftOut(this.buffer, recordAt, end, undefined, hash)) return;
    const at = this.lineStart(undefined, hash, end - recordAt, full);
    this.lineEnd(at + (end - recordAt));
  }

  /** One record, `bytes[start, end)`: `state` says how far it is known to be valid JSON. */
  private bytes(
    bytes: Buffer,
    start: number,
    end: number,
    state: number | undefined,
    full: Buffer[],
  ): void {
    let record = bytes;
    let from = start;
    let to = end;
    const scan =
      state === JSON_COMPACT || state === JSON_SPACED ? state : scanJsonValue(bytes, start, end);
    if (scan === JSON_TOO_DEEP) {
      throw new MalformedInputError(
        this.options.format,
        `record nests deeper than ${MAX_JSON_DEPTH} levels (the parser's limit)`,
        { record: this.records },
      );
    }
    if (scan !== JSON_COMPACT && scan !== JSON_SPACED) {
      throw new ExtractorFailedError(
        this.options.format,
        new TypeError('yielded raw JSON that is not one JSON value'),
        { record: this.records },
      );
    }
    if (scan === JSON_SPACED) {
      if (this.scratch.length < end - start) this.scratch = Buffer.allocUnsafe(end - start);
      record = this.scratch;
      from = 0;
      to = compactJson(bytes, start, end, this.scratch, 0);
    }
    const view = record.subarray(from, to);
    const hash = recordHash(view);
    const key = this.options.identity.declared
      ? JSON.stringify(this.options.identity.key(record, from, to, this.records))
      : undefined;
    if (this.leftOut(record, from, to, key, hash)) return;
    const at = this.lineStart(key, hash, to - from, full);
    this.lineEnd(at + view.copy(this.buffer, at));
  }

  /**
   * Makes room for a line and writes it up to `"record":`; returns where the record goes.
   * `key` is JSON text, or undefined for the hash. Constant parts are copied from buffers:
   * a line allocates nothing but its hash (this runs once per record).
   */
  private lineStart(
    key: string | undefined,
    hash: string,
    recordBytes: number,
    full: Buffer[],
  ): number {
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    const keyBytes = key === undefined ? hash.length + 2 : key.length * 3;
    const bytes =
      this.prefix.length +
      keyBytes +
      HASH_COLUMN.length +
      hash.length +
      RECORD_COLUMN.length +
      recordBytes +
      2;
    this.reserve(bytes, full);
    const buffer = this.buffer;
    let at = this.used + this.prefix.copy(buffer, this.used);
    if (key === undefined) {
      buffer[at] = 0x22; // "
      at += buffer.write(hash, at + 1, 'latin1') + 2;
      buffer[at - 1] = 0x22;
    } else {
      at += buffer.write(key, at, 'utf8');
    }
    at += HASH_COLUMN.copy(buffer, at);
    at += buffer.write(hash, at, 'latin1');
    return at + RECORD_COLUMN.copy(buffer, at);
  }

  /** Room for `bytes` more in the buffer, passing the full one on first if needed. */
  private reserve(bytes: number, full: Buffer[]): void {
    if (this.used + bytes <= this.buffer.length) return;
    const rest = this.take();
    if (rest) full.push(rest);
    this.buffer = Buffer.allocUnsafe(Math.max(bytes, this.nextBytes));
  }

  /** Whether the selector leaves the record out (it is then counted, and gets no line). */
  private leftOut(
    record: Uint8Array,
    start: number,
    end: number,
    key: string | undefined,
    hash: string,
  ): boolean {
    const select = this.options.select;
    if (select === undefined || select.admit(record, start, end, key, hash)) return false;
    this.records += 1;
    this.dropped += 1;
    return true;
  }

  /** Closes the line whose record ends at `at`. */
  private lineEnd(at: number): void {
    this.buffer[at] = 0x7d; // }
    this.buffer[at + 1] = 0x0a; // \n
    this.used = at + 2;
    this.records += 1;
  }
}
