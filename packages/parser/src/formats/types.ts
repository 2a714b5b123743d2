import type { Readable } from 'node:stream';
import type { FormatOptions } from '@fanout/shared';

/** What an extractor is told about the object it reads. */
export interface ExtractorContext {
  /** The format name the extractor was registered under. */
  readonly format: string;
  /** `formatOptions` from the raw object's metadata (from the source manifest). */
  readonly options: FormatOptions;
  /** A single record (or line) larger than this must raise RecordTooLargeError. */
  readonly maxRecordBytes: number;
  /**
   * The URL that answered (after redirects, redacted), when the raw object records it: what
   * relative links in the body resolve against.
   */
  readonly pageUrl?: string;
  /**
   * Bytes of input the extractor has been given so far, for error locations when nothing
   * better is known. Extractors read UTF-8 (the parser decodes the body first); offsets in
   * that text are turned back into offsets in the raw bytes for the report.
   */
  bytesRead(): number;
}

/**
 * Turns the bytes of a raw object into records. Records must be JSON-serializable
 * and must be yielded one at a time as they are found (never collected), so memory
 * stays bounded by the record size. Raise a MalformedInputError (with a location)
 * for bad input; any other error is reported as the extractor failing.
 */
export type Extractor = (input: Readable, context: ExtractorContext) => AsyncIterable<unknown>;

/**
 * A record already serialized as JSON text, written as the source wrote it: no
 * re-serialization, so numbers keep their text (ids beyond 2^53 stay intact). The parser
 * checks it and leaves out whitespace between tokens; text that is not one JSON value fails
 * the extractor (ExtractorFailedError).
 */
export class RawJson {
  constructor(readonly text: string) {}
}

/**
 * How far the records of a RawJsonSpans were checked: `compact`, every one is valid JSON with
 * no whitespace between tokens; or one flag per record, JSON_COMPACT or JSON_SPACED (valid,
 * whitespace to leave out). Absent: the parser checks each record as it would a RawJson.
 */
export type SpansChecked = 'compact' | Uint8Array;

/**
 * Records already serialized as JSON, as UTF-8 bytes: record `i` is `bytes[starts[i], ends[i])`.
 * Many records cross to the output in one step, and are written without being decoded to
 * text.
 */
export class RawJsonSpans {
  constructor(
    readonly bytes: Buffer,
    readonly starts: readonly number[],
    readonly ends: readonly number[],
    /** For extractors that validated the bytes themselves. */
    readonly checked?: SpansChecked,
  ) {}
}

/**
 * Several records found together, in order, each JSON-serializable as a record yielded alone
 * would be. One yield for many records saves an await per record.
 */
export class RecordBatch {
  constructor(readonly records: readonly unknown[]) {}
}
