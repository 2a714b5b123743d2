import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as z from 'zod/mini';
import { ContractValidationError, FanoutContractError } from './errors.js';
import { BatchIdSchema, RunIdSchema, SourceIdSchema } from './ids.js';
import { FormatOptionsSchema, FormatSchema } from './manifest.js';
import { PreviousRawKeysSchema } from './payload.js';
import { RecordKeySchema } from './record-key.js';
import { PageCursorSchema } from './record-selection.js';
import { BatchResultSchema } from './records.js';
import { check } from './validate.js';

/**
 * A raw pack: the changed responses of one collector hop, stored together as ONE
 * object (one PUT, one parser invocation) instead of one object per response.
 *
 * The object is gzip NDJSON in two gzip members (any gunzip reads them as one stream):
 *   line 1       the header: the hop's batch result (every task's outcome) and the entry count
 *   lines 2..n   one entry per response page: self-describing metadata and the body
 * The header is written last but stored first, so a reader gets a hop's outcomes from the
 * first line without reading the bodies. Every hop stores its pack, even with no entries
 * (a header alone): the pack key is the hop's one record, written only if absent. Inspect one with `zcat pack.ndjson.gz | head -1`.
 */

export const PACK_KIND = 'fanout.pack';
export const PACK_VERSION = 1;

/**
 * Longest header line a reader accepts by default: a hop's header holds one outcome (a few
 * hundred bytes) per task of a payload that is itself at most 1 MB (aws-facts.md, async
 * invoke payload), so 16 MiB leaves room and still bounds a reader's memory.
 */
export const PACK_HEADER_MAX_BYTES = 16 * 1024 * 1024;

export const PackHeaderSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    kind: z.literal(PACK_KIND),
    version: z.literal(PACK_VERSION),
    runId: RunIdSchema,
    batchId: BatchIdSchema,
    hop: z.number().check(z.int(), z.nonnegative()),
    scheduledAt: z.iso.datetime({ offset: true }),
    /** Entries that follow the header; a reader that finds fewer holds a truncated pack. */
    entries: z.number().check(z.int(), z.nonnegative()),
    /**
     * The Lambda request id of the invocation that wrote the pack. A hop's pack is written
     * once (first writer wins): a retry of the same invocation (same id) that finds it takes
     * over from it, a duplicate delivery (another id) leaves it alone.
     */
    requestId: z.optional(z.string().check(z.minLength(1))),
    /** The outcome of every task of the hop, changed or not: the hop's record of what it did. */
    result: BatchResultSchema,
  }),
);
export type PackHeader = z.infer<typeof PackHeaderSchema>;

/** One response page in a pack. Everything the parser needs travels with it. */
export const PackEntrySchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    sourceId: SourceIdSchema,
    page: z.number().check(z.int(), z.nonnegative()),
    /** The URL fetched, without credentials (no `user:password@`, query values redacted). */
    url: z.string(),
    httpStatus: z.number().check(z.int(), z.minimum(100), z.maximum(599)),
    contentType: z.optional(z.string()),
    /** `Content-Encoding` the body still has (none when the collector decoded it). */
    contentEncoding: z.optional(z.string()),
    etag: z.optional(z.string()),
    lastModified: z.optional(z.string()),
    fetchedAt: z.iso.datetime({ offset: true }),
    sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
    /** Body length in bytes, before any text encoding in this line. */
    bytes: z.number().check(z.int(), z.nonnegative()),
    format: FormatSchema,
    formatOptions: z._default(FormatOptionsSchema, {}),
    /** The source's record key (see SourceSchema `key`). */
    key: z.optional(RecordKeySchema),
    /** A detail page: the `source` its records carry (`<source id>.detail`). */
    recordSource: z.optional(SourceIdSchema),
    /** A detail page: the URL of the page whose link led to it (redacted). */
    linkedFrom: z.optional(z.string()),
    /** The source's `emit`, when it emits changes only (see SourceSchema `emit`). */
    emit: z.optional(z.literal('changes')),
    /**
     * `emit: "changes"`: the raw objects of the source's previous fetch (a pack, and pages
     * too large for one). The parser reads that fetch's pages of this source again and
     * leaves out every record whose (key, hash) they produced; absent on a first fetch (or
     * the first after the source was edited): every record is written.
     */
    previousRawKeys: z.optional(PreviousRawKeysSchema),
    /**
     * The source's `cursor` field and the highest value seen before this fetch: records at
     * or below it are left out, and the parse outcome reports the new highest value.
     */
    cursor: z.optional(PageCursorSchema),
    /** `utf8`: `body` is the text; `base64`: the bytes were not valid UTF-8. */
    bodyEncoding: z.enum(['utf8', 'base64']),
    body: z.string(),
  }),
);
export type PackEntry = z.infer<typeof PackEntrySchema>;
export type PackEntryFields = Omit<PackEntry, 'bodyEncoding' | 'body' | 'bytes'>;

/** A pack that cannot be read: corrupt gzip, a bad line, fewer entries than the header says. */
export class PackFormatError extends FanoutContractError {
  override name = 'PackFormatError';
  constructor(
    reason: string,
    /** 1-based line of the pack where the problem is, when known. */
    readonly line?: number,
  ) {
    super(line === undefined ? reason : `${reason} (pack line ${line})`);
  }
}

/** The header line (with its newline). */
export function packHeaderLine(header: PackHeader): string {
  return `${JSON.stringify(header)}\n`;
}

/** An entry line (with its newline): UTF-8 bodies as text (they compress best), others as base64. */
export function packEntryLine(fields: PackEntryFields, body: Buffer): string {
  const text = isUtf8(body);
  const entry: PackEntry = {
    ...fields,
    bytes: body.length,
    bodyEncoding: text ? 'utf8' : 'base64',
    body: text ? body.toString('utf8') : body.toString('base64'),
  };
  return `${JSON.stringify(entry)}\n`;
}

/** The exact bytes an entry was made from. */
export function packEntryBody(entry: PackEntry): Buffer {
  return Buffer.from(entry.body, entry.bodyEncoding === 'utf8' ? 'utf8' : 'base64');
}

export type PackItem =
  | { readonly kind: 'header'; readonly header: PackHeader }
  /** `entry` is undefined when the line is JSON but not a valid entry (see `problem`). */
  | {
      readonly kind: 'entry';
      readonly index: number;
      readonly line: number;
      readonly entry: PackEntry | undefined;
      readonly problem?: string;
      /** The line as stored, for quarantining an entry that does not validate. */
      readonly text: string;
    };

export interface ReadPackOptions {
  /** A line longer than this is a corrupt pack, not a reason to run out of memory. */
  readonly maxLineBytes: number;
  /** Stop after the header (a reader that wants the hop's outcomes only). */
  readonly headerOnly?: boolean;
}

async function* lines(input: Readable, maxLineBytes: number): AsyncGenerator<string> {
  const gunzip = createGunzip();
  input.on('error', (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  let held: Buffer[] = [];
  let heldBytes = 0;
  let lineNumber = 1;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let start = 0;
      for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, newline);
        if (heldBytes + piece.length > maxLineBytes) {
          throw new PackFormatError(`line longer than ${maxLineBytes} bytes`, lineNumber);
        }
        const line = heldBytes === 0 ? piece : Buffer.concat([...held, piece]);
        held = [];
        heldBytes = 0;
        yield line.toString('utf8');
        lineNumber += 1;
        start = newline + 1;
      }
      const rest = chunk.subarray(start);
      heldBytes += rest.length;
      if (heldBytes > maxLineBytes) {
        throw new PackFormatError(`line longer than ${maxLineBytes} bytes`, lineNumber);
      }
      if (rest.length > 0) held.push(Buffer.from(rest));
    }
  } catch (error) {
    if (error instanceof PackFormatError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new PackFormatError(`not a readable gzip stream: ${message}`, lineNumber);
  } finally {
    input.unpipe(gunzip);
    input.destroy();
    gunzip.destroy();
  }
  if (heldBytes > 0) throw new PackFormatError('last line has no newline (truncated)', lineNumber);
}

function jsonOf(text: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PackFormatError(`not JSON: ${(error as Error).message}`, line);
  }
}

/**
 * Reads a pack as a stream: the header, then each entry, with memory bounded by one
 * line. A bad header, corrupt gzip, a line that is not JSON or a missing entry make
 * the whole pack unreadable (PackFormatError); a JSON line that is not a valid entry
 * is yielded with its problem, so the entries around it are still delivered.
 */
export async function* readPack(
  input: Readable,
  options: ReadPackOptions,
): AsyncGenerator<PackItem> {
  let header: PackHeader | undefined;
  let index = 0;
  let line = 0;
  for await (const text of lines(input, options.maxLineBytes)) {
    line += 1;
    if (header === undefined) {
      const result = check(PackHeaderSchema, jsonOf(text, line), ['header']);
      if (!result.ok) {
        throw new PackFormatError(`invalid pack header: ${result.issues.join('; ')}`, line);
      }
      header = result.value;
      yield { kind: 'header', header };
      if (options.headerOnly) return;
      continue;
    }
    if (index >= header.entries) {
      throw new PackFormatError(`more entries than the header's ${header.entries}`, line);
    }
    const result = check(PackEntrySchema, jsonOf(text, line), [`entries[${index}]`]);
    yield result.ok
      ? { kind: 'entry', index, line, entry: result.value, text }
      : { kind: 'entry', index, line, entry: undefined, problem: result.issues.join('; '), text };
    index += 1;
  }
  if (header === undefined) throw new PackFormatError('empty pack: no header line');
  if (index < header.entries) {
    throw new PackFormatError(
      `truncated: the header announces ${header.entries} entries, found ${index}`,
      line + 1,
    );
  }
}

/** The header of a pack (its hop's outcomes), reading no further than the first line. */
export async function readPackHeader(input: Readable, maxLineBytes: number): Promise<PackHeader> {
  for await (const item of readPack(input, { maxLineBytes, headerOnly: true })) {
    if (item.kind === 'header') return item.header;
  }
  throw new PackFormatError('empty pack: no header line');
}

/** Validates a header built in memory (the collector checks what it is about to store). */
export function parsePackHeader(value: unknown): PackHeader {
  const result = check(PackHeaderSchema, value, ['header']);
  if (!result.ok) throw new ContractValidationError('pack header', result.issues);
  return result.value;
}
