import {
  Readable,
  Transform,
  type TransformCallback,
  type TransformOptions,
  type Writable,
} from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createGzip, gzipSync, type ZlibOptions } from 'node:zlib';
import type { FormatOptions, RecordKey } from '@fanout/shared';
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
import type { ExtractorContext } from './formats/types.js';
import { createSegmentDeflater, deflateSegmentSync } from './gzip-member.js';
import { RecordIdentity } from './record-identity.js';
import { type Envelope, OUTPUT_BATCH_BYTES, RecordLineWriter } from './record-lines.js';
import type { RecordSelector } from './record-selection.js';

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
  /** The source's record key (field names or JSON pointers); absent: the content hash. */
  readonly recordKey?: RecordKey;
  /** Which records get a line (emit: changes, a cursor); absent: every one. */
  readonly select?: RecordSelector;
  readonly limits: ParserLimits;
  /** zlib level 0-9. */
  readonly gzipLevel: number;
  readonly extractors?: ExtractorRegistry;
  /**
   * What is written to `output`: a whole gzip member (default), or a deflate segment of one
   * (see gzip-member.ts) whose CRC-32 continues from `crcSeed`.
   */
  readonly segment?: { readonly crcSeed: number };
}

export interface ParseStats {
  /** Records written. */
  readonly records: number;
  /** Records the selector left out (present only with a selector). */
  readonly leftOut?: number;
  /** Set when the body declared no charset and was read as windows-1252 (`undeclaredFallback`). */
  readonly decodedAs?: typeof WINDOWS_1252_FALLBACK;
  /** Raw bytes read. */
  readonly bytesIn: number;
  /** Compressed bytes written. */
  readonly bytesOut: number;
  /** Uncompressed bytes of the lines written. */
  readonly linesBytes: number;
  /** CRC-32 of those bytes, continued from `segment.crcSeed` (0 without one). */
  readonly crc: number;
}

/**
 * Output up to this size is gzipped in one synchronous call once it is complete; larger
 * output streams through zlib. Either way the same bytes are compressed, into the same
 * member (a retry rewrites identical output).
 */
const SMALL_OUTPUT_BYTES = 64 * 1024;

/** Output buffers zlib fills (its default is 16 KiB): fewer callbacks per object. */
const ZLIB_CHUNK_BYTES = 64 * 1024;

/**
 * Lines zlib may hold before the writer waits: two of the writer's batches, so the next
 * batch is written while zlib compresses the last on its thread. With the default (16 KiB)
 * every batch waited for zlib to finish the one before, and the two never overlapped.
 */
const ZLIB_INPUT_BYTES = 2 * OUTPUT_BATCH_BYTES;

/** zlib's streams take the stream options too (its types leave them out). */
function gzipOptions(level: number): ZlibOptions & TransformOptions {
  return { level, chunkSize: ZLIB_CHUNK_BYTES, writableHighWaterMark: ZLIB_INPUT_BYTES };
}

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

async function* envelopeLines(
  records: AsyncIterable<unknown>,
  writer: RecordLineWriter,
  format: string,
): AsyncGenerator<Buffer> {
  const full: Buffer[] = [];
  for await (const record of records) {
    try {
      writer.write(record, full);
    } catch (error) {
      // Whatever a record makes the writer throw is that record's doing (odd input), not a
      // fault a retry can fix: the object or entry is quarantined with it.
      if (error instanceof ParserError) throw error;
      throw new ExtractorFailedError(
        format,
        error instanceof Error ? error : new Error(String(error)),
        { record: writer.records },
      );
    }
    if (full.length > 0) {
      yield* full;
      full.length = 0;
    }
  }
  const rest = writer.take();
  if (rest) yield rest;
}

/**
 * The writer's batches on their way to the compressor, handed back to the writer once the
 * compressor has consumed them (see RecordLineWriter.recycle). A Transform takes its input in
 * order and is done with a chunk once the chunk no longer counts in its `writableLength`
 * (zlib drops its reference to a chunk before that).
 */
class BatchesInFlight {
  private readonly sent: Buffer[] = [];
  private sentBytes = 0;

  constructor(
    private readonly writer: RecordLineWriter,
    private readonly compressor: Writable,
  ) {}

  /** Records `chunk` as sent, after handing back the batches consumed so far. */
  send(chunk: Buffer): Buffer {
    const pending = this.compressor.writableLength;
    for (let first = this.sent[0]; first !== undefined; first = this.sent[0]) {
      if (this.sentBytes - first.length < pending) break;
      this.sent.shift();
      this.sentBytes -= first.length;
      this.writer.recycle(first);
    }
    this.sent.push(chunk);
    this.sentBytes += chunk.length;
    return chunk;
  }
}

/** Counts (and, for a segment, checksums) the uncompressed lines on their way to the compressor. */
class LinesTally {
  bytes = 0;
  constructor(
    public crc: number,
    private readonly checksum: boolean,
  ) {}

  add(chunk: Buffer): Buffer {
    this.bytes += chunk.length;
    if (this.checksum) this.crc = crc32(chunk, this.crc);
    return chunk;
  }
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

export type { Envelope } from './record-lines.js';

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
  const writer = new RecordLineWriter({
    envelope: options.envelope,
    identity: new RecordIdentity(options.recordKey),
    format: options.format,
    checkObjects: !registry.isBuiltIn(options.format),
    ...(options.select !== undefined ? { select: options.select } : {}),
  });
  const segment = options.segment;
  const tally = new LinesTally(segment?.crcSeed ?? 0, segment !== undefined);
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
    const lines = envelopeLines(extracted(), writer, options.format);
    const head = await readUpTo(lines, SMALL_OUTPUT_BYTES);
    const level = options.gzipLevel;
    if (head.ended) {
      // Small output (a pack entry, a small response): one synchronous deflate of the
      // same bytes, instead of a zlib stream's setup and thread-pool round trips.
      const bytes = tally.add(Buffer.concat(head.chunks));
      const compressed = segment ? deflateSegmentSync(bytes, level) : gzipSync(bytes, { level });
      await pipeline(Readable.from([compressed], { objectMode: false }), sink, output);
    } else {
      const compressor = segment
        ? createSegmentDeflater(level, ZLIB_INPUT_BYTES)
        : createGzip(gzipOptions(level));
      const inFlight = new BatchesInFlight(writer, compressor);
      await pipeline(
        (async function* all() {
          for (const chunk of head.chunks) yield tally.add(inFlight.send(chunk));
          for await (const chunk of lines) yield tally.add(inFlight.send(chunk));
        })(),
        compressor,
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
      { record: writer.records, byteOffset: source.bytes },
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
    records: writer.records - writer.dropped,
    ...(options.select !== undefined ? { leftOut: writer.dropped } : {}),
    bytesIn: source.bytes,
    bytesOut: sink.bytes,
    linesBytes: tally.bytes,
    crc: tally.crc,
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
