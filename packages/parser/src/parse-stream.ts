import { Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import type { FormatOptions } from '@fanout/shared';
import { Utf8Transcoder, WINDOWS_1252_FALLBACK } from './charset.js';
import type { ParserLimits } from './config.js';
import { decompressorFor } from './content-encoding.js';
import {
  ContentEncodingError,
  ExtractorFailedError,
  MalformedInputError,
  ParserError,
  RawObjectTooLargeError,
  RecordTooLargeError,
  UnparseableObjectError,
} from './errors.js';
import { defaultExtractors, type ExtractorRegistry } from './formats/registry.js';
import { type ExtractorContext, RawJson, RawJsonSpans, RecordBatch } from './formats/types.js';

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
}

export interface ParseStreamOptions {
  readonly format: string;
  readonly formatOptions?: FormatOptions;
  /** The upstream `Content-Type`; its `charset` parameter decides the body's encoding (after a BOM). */
  readonly contentType?: string;
  /** The URL that answered, for extractors that resolve relative links (`html`). */
  readonly pageUrl?: string;
  /**
   * A `Content-Encoding` the body still has (gzip, deflate, br): undone first, the decoded
   * size bounded by `limits.maxRawBytes`. Byte offsets in errors then count decoded bytes.
   */
  readonly contentEncoding?: string;
  readonly envelope: Envelope;
  readonly limits: ParserLimits;
  /** zlib level 0-9. */
  readonly gzipLevel: number;
  readonly extractors?: ExtractorRegistry;
}

export interface ParseStats {
  readonly records: number;
  /** Set when the body declared no charset and was read as windows-1252 (`undeclaredFallback`). */
  readonly decodedAs?: typeof WINDOWS_1252_FALLBACK;
  /** Raw bytes read. */
  readonly bytesIn: number;
  /** Gzip bytes written. */
  readonly bytesOut: number;
}

/** Output lines are written in batches of about this many bytes (fewer stream writes). */
const OUTPUT_BATCH_BYTES = 64 * 1024;

/**
 * Output up to this size is gzipped in one synchronous call once it is complete; larger
 * output streams through zlib. Either way the same bytes are compressed, into the same
 * member (a retry rewrites identical output).
 */
const SMALL_OUTPUT_BYTES = 64 * 1024;

/** Reads `lines` until more than `limit` bytes are held or they end. */
async function readUpTo(
  lines: AsyncIterator<Buffer>,
  limit: number,
): Promise<{ chunks: Buffer[]; ended: boolean }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  while (bytes <= limit) {
    const next = await lines.next();
    if (next.done) return { chunks, ended: true };
    chunks.push(next.value);
    bytes += next.value.length;
  }
  return { chunks, ended: false };
}

/** Counts bytes passing through and fails once they exceed `limit`. */
export class ByteCounter extends Transform {
  bytes = 0;
  constructor(
    private readonly limit: number,
    private readonly overLimit: (bytes: number, limit: number) => Error = (bytes, limit) =>
      new RawObjectTooLargeError(bytes, limit, true),
  ) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      callback(this.overLimit(this.bytes, this.limit));
      return;
    }
    callback(null, chunk);
  }
}

/**
 * Envelope prefix of every line, shaped for Athena's JSON SerDe: flat scalar columns
 * (`source`, `run`, `page`, `fetchedAt`) and the record as one JSON column. Key order is
 * fixed and no value comes from the clock, so the same raw object always gives the same bytes.
 */
export function envelopePrefix(envelope: Envelope): string {
  return `{"source":${JSON.stringify(envelope.sourceId)},"run":${JSON.stringify(envelope.runId)},"page":${envelope.page ?? 0},"fetchedAt":${JSON.stringify(envelope.fetchedAt)},"record":`;
}

/**
 * Output lines as bytes, in buffers of about OUTPUT_BATCH_BYTES. Records already serialized
 * as bytes (RawJsonSpans) are copied in without being decoded; text is encoded once, here.
 */
class LineWriter {
  private buffer = Buffer.allocUnsafe(OUTPUT_BATCH_BYTES);
  private used = 0;
  private readonly prefix: Buffer;

  constructor(prefix: string) {
    this.prefix = Buffer.from(prefix, 'utf8');
  }

  /** Room for `bytes` more; returns a full buffer to pass on first, if any. */
  private reserve(bytes: number): Buffer | undefined {
    if (this.used + bytes <= this.buffer.length) return undefined;
    const full = this.take();
    if (bytes > this.buffer.length) this.buffer = Buffer.allocUnsafe(bytes);
    return full;
  }

  /** The bytes written so far (undefined when none), and a fresh buffer for what follows. */
  take(): Buffer | undefined {
    if (this.used === 0) return undefined;
    const full = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(Math.max(OUTPUT_BATCH_BYTES, this.buffer.length));
    this.used = 0;
    return full;
  }

  /** Writes one line holding `bytes[start, end)` as the record. */
  bytes(bytes: Buffer, start: number, end: number): Buffer | undefined {
    const full = this.reserve(this.prefix.length + (end - start) + 2);
    this.used += this.prefix.copy(this.buffer, this.used);
    this.used += bytes.copy(this.buffer, this.used, start, end);
    this.closeLine();
    return full;
  }

  /** Writes one line holding `text` (JSON) as the record. */
  text(text: string): Buffer | undefined {
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    const full = this.reserve(this.prefix.length + text.length * 3 + 2);
    this.used += this.prefix.copy(this.buffer, this.used);
    this.used += this.buffer.write(text, this.used, 'utf8');
    this.closeLine();
    return full;
  }

  private closeLine(): void {
    this.buffer[this.used] = 0x7d; // }
    this.buffer[this.used + 1] = 0x0a; // \n
    this.used += 2;
  }

  get full(): boolean {
    return this.used >= OUTPUT_BATCH_BYTES;
  }
}

function serialized(record: unknown, format: string, index: number): string {
  const body = record instanceof RawJson ? record.text : JSON.stringify(record);
  if (body === undefined) {
    throw new ExtractorFailedError(
      format,
      new TypeError(`yielded a value that is not JSON (${typeof record})`),
      { record: index },
    );
  }
  return body;
}

async function* envelopeLines(
  records: AsyncIterable<unknown>,
  envelope: Envelope,
  format: string,
  counted: { records: number },
): AsyncGenerator<Buffer> {
  const writer = new LineWriter(envelopePrefix(envelope));
  for await (const record of records) {
    if (record instanceof RawJsonSpans) {
      const { bytes, starts, ends } = record;
      for (let i = 0; i < starts.length; i += 1) {
        const start = starts[i] ?? 0;
        const full = writer.bytes(bytes, start, ends[i] ?? start);
        if (full) yield full;
      }
      counted.records += starts.length;
    } else if (record instanceof RecordBatch) {
      for (const each of record.records) {
        const full = writer.text(serialized(each, format, counted.records));
        if (full) yield full;
        counted.records += 1;
      }
    } else {
      const full = writer.text(serialized(record, format, counted.records));
      if (full) yield full;
      counted.records += 1;
    }
    if (writer.full) {
      const full = writer.take();
      if (full) yield full;
    }
  }
  const rest = writer.take();
  if (rest) yield rest;
}

/**
 * Extractors read the UTF-8 text the transcoder produces, so their byte offsets count that
 * text. A report names offsets in the raw object's own bytes: restate the error there.
 */
function inOriginalBytes(error: ParserError, transcoder: Utf8Transcoder): ParserError {
  // Exact classes only: a subclass may carry more than these constructors can restate.
  const malformed =
    error.constructor === MalformedInputError ? (error as MalformedInputError) : undefined;
  const tooLarge =
    error.constructor === RecordTooLargeError ? (error as RecordTooLargeError) : undefined;
  const location = (malformed ?? tooLarge)?.location;
  if (location?.byteOffset === undefined) return error;
  const byteOffset = transcoder.originalOffset(location.byteOffset);
  if (byteOffset === location.byteOffset) return error;
  const { byteOffset: _decoded, ...rest } = location;
  const moved = byteOffset === undefined ? rest : { ...rest, byteOffset };
  if (malformed) return new MalformedInputError(malformed.format, malformed.problem, moved);
  if (tooLarge) return new RecordTooLargeError(tooLarge.format, tooLarge.limitBytes, moved);
  return error;
}

/**
 * Parses a raw byte stream into gzip NDJSON, one enveloped record per line,
 * streaming end to end: memory is bounded by one record plus stream buffers,
 * whatever the size of the input. Rejects with an UnparseableObjectError for bad
 * input; with the input's or output's own error when either fails.
 */
export async function parseStream(
  input: Readable,
  output: Writable,
  options: ParseStreamOptions,
): Promise<ParseStats> {
  const registry = options.extractors ?? defaultExtractors;
  const extractor = registry.get(options.format);
  let inputError: Error | undefined;
  let sourceError: Error | undefined;
  let extractorError: unknown;
  input.once('error', (error: Error) => {
    inputError ??= error;
  });

  const encoding = options.contentEncoding;
  let decompressor: Transform | undefined;
  try {
    decompressor = encoding === undefined ? undefined : decompressorFor(encoding);
  } catch (error) {
    input.destroy();
    throw error;
  }
  const source = new ByteCounter(
    options.limits.maxRawBytes,
    decompressor && encoding !== undefined
      ? (bytes, limit) =>
          new ContentEncodingError(
            encoding,
            `the decoded body passed the ${limit}-byte limit (FANOUT_MAX_RAW_BYTES) at byte ${bytes}; a compression bomb, or too large to parse`,
          )
      : undefined,
  );
  source.once('error', (error: Error) => {
    sourceError ??= error;
  });
  input.once('error', (error: Error) => source.destroy(error));
  if (decompressor && encoding !== undefined) {
    decompressor.once('error', (error: Error) => {
      if (inputError !== undefined) return;
      source.destroy(new ContentEncodingError(encoding, `not valid: ${error.message}`));
    });
    input.once('error', (error: Error) => decompressor?.destroy(error));
    input.pipe(decompressor).pipe(source);
  } else {
    input.pipe(source);
  }
  const sink = new ByteCounter(Number.POSITIVE_INFINITY);
  const counted = { records: 0 };
  const formatOptions = options.formatOptions ?? {};
  // Text formats read the body decoded to UTF-8; a binary custom format reads it as fetched.
  const reads = registry.inputOf(options.format);
  const transcoder =
    reads !== 'bytes'
      ? new Utf8Transcoder(
          options.contentType,
          formatOptions.invalidBytes ?? 'fatal',
          reads === 'html' ? 'html' : 'xml',
          formatOptions.strict === true,
        )
      : undefined;
  const text = transcoder
    ? Readable.from(transcoder.transcode(source), { objectMode: false })
    : source;
  const context: ExtractorContext = {
    format: options.format,
    options: formatOptions,
    maxRecordBytes: options.limits.maxRecordBytes,
    ...(options.pageUrl !== undefined ? { pageUrl: options.pageUrl } : {}),
    bytesRead: () => transcoder?.outputBytes ?? source.bytes,
  };
  // Tells an extractor's failure (bad input, or a bug in a custom extractor)
  // apart from a failure of the gzip/output side, which is a fault to retry.
  async function* extracted(): AsyncGenerator<unknown> {
    try {
      yield* extractor(text, context);
    } catch (error) {
      extractorError = error;
      throw error;
    }
  }

  try {
    const lines = envelopeLines(extracted(), options.envelope, options.format, counted);
    const head = await readUpTo(lines, SMALL_OUTPUT_BYTES);
    if (head.ended) {
      // Small output (a pack entry, a small response): one synchronous deflate of the
      // same bytes, instead of a zlib stream's setup and thread-pool round trips.
      const gzipped = gzipSync(Buffer.concat(head.chunks), { level: options.gzipLevel });
      await pipeline(Readable.from([gzipped], { objectMode: false }), sink, output);
    } else {
      await pipeline(
        (async function* all() {
          yield* head.chunks;
          yield* lines;
        })(),
        createGzip({ level: options.gzipLevel }),
        sink,
        output,
      );
    }
  } catch (error) {
    // An extractor that failed before the output pipeline started leaves it open: close it,
    // as the pipeline would have.
    if (!output.destroyed) output.destroy();
    if (inputError) throw inputError;
    if (sourceError instanceof UnparseableObjectError) throw sourceError;
    if (error instanceof ParserError) {
      throw transcoder ? inOriginalBytes(error, transcoder) : error;
    }
    if (extractorError === undefined) throw error;
    throw new ExtractorFailedError(
      options.format,
      extractorError instanceof Error ? extractorError : new Error(String(extractorError)),
      { record: counted.records, byteOffset: source.bytes },
    );
  } finally {
    // An extractor that stopped early must not leave the raw object's connection open.
    if (!source.readableEnded) {
      input.unpipe();
      input.destroy();
      decompressor?.destroy();
      source.destroy();
      if (text !== source) text.destroy();
    }
  }
  return {
    records: counted.records,
    bytesIn: source.bytes,
    bytesOut: sink.bytes,
    ...(transcoder?.fellBack ? { decodedAs: WINDOWS_1252_FALLBACK } : {}),
  };
}

/** Convenience for tests and the benchmark: parse bytes already in memory. */
export function bytesSource(bytes: Buffer | string, chunkBytes = 64 * 1024): Readable {
  const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return Readable.from(
    (function* chunks() {
      for (let start = 0; start < buffer.length; start += chunkBytes) {
        yield buffer.subarray(start, start + chunkBytes);
      }
    })(),
  );
}
