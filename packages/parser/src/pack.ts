import { type Readable, Writable } from 'node:stream';
import {
  higherCursor,
  type PackEntry,
  PackFormatError,
  type PackHeader,
  type PackItem,
  type ParsedObjectOutcome,
  packEntryBody,
  readPack,
  SourceIdSchema,
  toParsedObjectMetadata,
} from '@fanout/shared';
import {
  ExtractorFailedError,
  InvalidPackEntryError,
  ParserError,
  RawObjectTooLargeError,
  UnparseableObjectError,
  UnreadablePackError,
} from './errors.js';
import { defaultExtractors } from './formats/registry.js';
import { GzipMemberAssembler, type SegmentStats } from './gzip-member.js';
import { ParsedObjectWriter } from './output.js';
import { ByteCounter, bytesSource, parseStream } from './parse-stream.js';
import { PreviousFetches, selectionFor } from './previous-fetch.js';
import { type BadEntry, quarantineEntry } from './quarantine.js';
import { definitionFor, type ParserDeps } from './raw-object.js';
import type { FetchSelection } from './record-selection.js';

/** One entry of a pack that was quarantined on its own. */
export interface QuarantinedEntry {
  readonly sourceId: string;
  readonly page: number;
  readonly reason: string;
  readonly quarantineKey: string;
  readonly reportKey: string;
}

export type PackParseResult =
  | {
      readonly status: 'parsed';
      readonly outcome: ParsedObjectOutcome;
      readonly quarantinedEntries: readonly QuarantinedEntry[];
      /** Records left out as emit: changes or a cursor would have them. */
      readonly leftOut: number;
    }
  /** The pack cannot be read at all; nothing is stored under parsed/. */
  | { readonly status: 'unreadable'; readonly error: UnparseableObjectError }
  /** A hop's record with no pages (its header alone): nothing to parse, nothing stored. */
  | { readonly status: 'empty'; readonly header: PackHeader };

type EntryResult =
  | {
      readonly ok: true;
      readonly segment: Buffer;
      readonly stats: SegmentStats;
      readonly records: number;
      readonly leftOut: number;
      readonly decodedAs?: string | undefined;
    }
  | { readonly ok: false; readonly bad: BadEntry; readonly error: UnparseableObjectError };

/** `<sourceId>-p<NNNN>`, the name of a page in an outcome (as in the quarantine keys). */
export function pageName(sourceId: string, page: number): string {
  return `${sourceId}-p${String(page).padStart(4, '0')}`;
}

/** A Writable that keeps what it is given (one entry's deflate segment, until the entry is known good). */
function memorySink(): { stream: Writable; take: () => Buffer } {
  const parts: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(chunk);
      callback();
    },
  });
  return { stream, take: () => Buffer.concat(parts) };
}

function describeEntry(entry: PackEntry): Record<string, string> {
  return {
    format: entry.format,
    url: entry.url,
    'http-status': String(entry.httpStatus),
    'fetched-at': entry.fetchedAt,
    sha256: entry.sha256,
    ...(entry.contentType !== undefined ? { 'content-type': entry.contentType } : {}),
    ...(entry.contentEncoding !== undefined ? { 'content-encoding': entry.contentEncoding } : {}),
  };
}

/**
 * Names a line that is not a valid entry by what it says of itself when that is usable,
 * else by its position: `entry-<index>` is a valid source id, so it has quarantine keys.
 */
function badEntryOf(
  packKey: string,
  item: Extract<PackItem, { kind: 'entry' }>,
): Omit<BadEntry, 'metadata'> {
  let claimed: { sourceId?: unknown; page?: unknown } = {};
  try {
    const value: unknown = JSON.parse(item.text);
    if (typeof value === 'object' && value !== null) claimed = value;
  } catch {
    // readPack only yields JSON lines; a fallback name covers anything else.
  }
  const source = SourceIdSchema.safeParse(claimed.sourceId);
  const page =
    typeof claimed.page === 'number' && Number.isInteger(claimed.page) && claimed.page >= 0
      ? claimed.page
      : item.index;
  return {
    packKey,
    sourceId: source.success ? source.data : `entry-${item.index}`,
    page,
    packLine: item.line,
    text: item.text,
  };
}

/**
 * Parses one entry into its own deflate segment (see gzip-member.ts), held in memory until
 * the whole entry has parsed: a bad entry contributes nothing to the parsed object, and clean
 * entries are appended as they come to the one gzip member of the pack's output.
 *
 * The entry is read from memory and written to memory, so whatever fails here is the
 * entry's own doing (its input, or the parser on odd input), never a fault a retry can fix:
 * it is quarantined alone.
 */
async function parseEntry(
  deps: ParserDeps,
  packKey: string,
  header: PackHeader,
  item: Extract<PackItem, { kind: 'entry' }>,
  crcSeed: number,
  select: FetchSelection | undefined,
): Promise<EntryResult> {
  const entry = item.entry;
  if (entry === undefined) {
    return {
      ok: false,
      bad: { ...badEntryOf(packKey, item), metadata: {} },
      error: new InvalidPackEntryError(item.problem ?? 'not a valid entry', item.line),
    };
  }
  const sink = memorySink();
  const { format, formatOptions } = definitionFor(deps, entry.sourceId, entry);
  try {
    const stats = await parseStream(bytesSource(packEntryBody(entry)), sink.stream, {
      format,
      formatOptions,
      ...(entry.contentType !== undefined ? { contentType: entry.contentType } : {}),
      pageUrl: entry.url,
      ...(entry.contentEncoding !== undefined ? { contentEncoding: entry.contentEncoding } : {}),
      envelope: {
        sourceId: entry.sourceId,
        runId: header.runId,
        page: entry.page,
        fetchedAt: entry.fetchedAt,
      },
      ...(entry.key !== undefined ? { recordKey: entry.key } : {}),
      ...(select !== undefined ? { select } : {}),
      limits: deps.config,
      gzipLevel: deps.config.gzipLevel,
      extractors: deps.extractors ?? defaultExtractors,
      segment: { crcSeed },
    });
    return {
      ok: true,
      segment: sink.take(),
      stats,
      records: stats.records,
      leftOut: stats.leftOut ?? 0,
      decodedAs: stats.decodedAs,
    };
  } catch (thrown) {
    const error =
      thrown instanceof UnparseableObjectError
        ? thrown
        : new ExtractorFailedError(
            entry.format,
            thrown instanceof Error ? thrown : new Error(String(thrown)),
          );
    return {
      ok: false,
      bad: {
        packKey,
        sourceId: entry.sourceId,
        page: entry.page,
        packLine: item.line,
        text: item.text,
        metadata: describeEntry(entry),
      },
      error,
    };
  }
}

/**
 * Parses a pack read from `body` into ONE parsed object at `outputKey`, its outcome as
 * the object's metadata. Reads the pack as a stream, one line in memory at a time. Bad
 * entries are quarantined one by one and the rest still parsed; a pack that cannot be
 * read (PackFormatError) or is over FANOUT_MAX_RAW_BYTES is `unreadable` and leaves no
 * parsed object. Throws for faults a retry can fix: a failed read of the body, S3 errors.
 */
export async function parsePack(
  deps: ParserDeps,
  packKey: string,
  body: Readable,
  outputKey: string,
): Promise<PackParseResult> {
  const { config } = deps;
  let readError: Error | undefined;
  let limitError: RawObjectTooLargeError | undefined;
  const counter = new ByteCounter(config.maxRawBytes);
  body.once('error', (error: Error) => {
    readError ??= error;
    counter.destroy(error);
  });
  counter.once('error', (error: Error) => {
    if (error instanceof RawObjectTooLargeError) limitError = error;
  });
  body.pipe(counter);

  const writer = new ParsedObjectWriter({
    s3: deps.s3,
    bucket: config.bucket,
    key: outputKey,
    settings: config,
  });
  const member = new GzipMemberAssembler();
  let header: PackHeader | undefined;
  let pages = 0;
  let parsed = 0;
  let records = 0;
  let leftOut = 0;
  const quarantinedEntries: QuarantinedEntry[] = [];
  const windows1252Pages: string[] = [];
  const cursors = new SourceCursors();
  let previous: PreviousFetches | undefined;
  try {
    for await (const item of readPack(counter, { maxLineBytes: config.maxPackLineBytes })) {
      if (item.kind === 'header') {
        header = item.header;
        if (header.entries === 0) return { status: 'empty', header };
        const collected = new Set(
          header.result.outcomes.filter((o) => o.status === 'ok').map((o) => o.sourceId),
        );
        previous = new PreviousFetches(deps, (sourceId) => collected.has(sourceId));
        continue;
      }
      if (header === undefined || previous === undefined) {
        throw new ParserError('pack entry before its header');
      }
      pages += 1;
      const select = item.entry && (await entrySelection(deps, previous, packKey, item.entry));
      const result = await parseEntry(deps, packKey, header, item, member.crcSeed, select);
      if (result.ok) {
        if (writer.bytes === 0) await writer.write(member.header());
        await writer.write(result.segment);
        member.keep(result.stats);
        parsed += 1;
        records += result.records;
        leftOut += result.leftOut;
        if (item.entry?.cursor !== undefined) cursors.parsed(item.entry.sourceId, select?.cursor);
        if (result.decodedAs !== undefined && item.entry !== undefined) {
          windows1252Pages.push(pageName(item.entry.sourceId, item.entry.page));
          deps.log.info('pack entry decoded as windows-1252', {
            key: packKey,
            runId: header.runId,
            sourceId: item.entry.sourceId,
            page: item.entry.page,
            reason: result.decodedAs,
          });
        }
        continue;
      }
      const { bad, error } = result;
      cursors.quarantined(bad.sourceId);
      const done = await quarantineEntry(deps, bad, error);
      quarantinedEntries.push({
        sourceId: bad.sourceId,
        page: bad.page,
        reason: done.report.reason,
        quarantineKey: done.quarantineKey,
        reportKey: done.reportKey,
      });
      deps.log.warn('pack entry quarantined', {
        key: packKey,
        runId: header.runId,
        sourceId: bad.sourceId,
        page: bad.page,
        packLine: bad.packLine,
        errorName: error.name,
        reason: done.report.reason,
        location: done.report.location,
        quarantineKey: done.quarantineKey,
      });
    }
  } catch (error) {
    await writer.abort();
    if (!(error instanceof PackFormatError)) throw error;
    // readPack reports any failure of its input as unreadable gzip; a failed read is a fault to retry.
    if (readError !== undefined) throw readError;
    if (limitError !== undefined) return { status: 'unreadable', error: limitError };
    return { status: 'unreadable', error: new UnreadablePackError(error.message, error.line) };
  } finally {
    body.unpipe(counter);
    body.destroy();
  }
  if (header === undefined) throw new ParserError('pack read without a header');

  // Every entry quarantined (or none at all): an empty gzip member still marks the pack handled.
  if (writer.bytes === 0) await writer.write(member.header());
  await writer.write(member.trailer());
  const outcome: ParsedObjectOutcome = {
    runId: header.runId,
    rawKey: packKey,
    pages,
    parsed,
    quarantined: quarantinedEntries.length,
    quarantinedPages: quarantinedEntries.map((q) => pageName(q.sourceId, q.page)),
    ...(windows1252Pages.length > 0 ? { windows1252Pages } : {}),
    ...cursors.outcome(),
    records,
    bytesIn: counter.bytes,
    bytesOut: writer.bytes,
    parsedAt: new Date(deps.clock.now()).toISOString(),
  };
  await writer.finish(toParsedObjectMetadata(outcome));
  return { status: 'parsed', outcome, quarantinedEntries, leftOut };
}

/** The selector of an entry's records, from what the collector wrote into it. */
function entrySelection(
  deps: ParserDeps,
  previous: PreviousFetches,
  packKey: string,
  entry: PackEntry,
): Promise<FetchSelection | undefined> {
  const { format, formatOptions } = definitionFor(deps, entry.sourceId, entry);
  return selectionFor(
    deps,
    previous,
    {
      rawKey: packKey,
      sourceId: entry.sourceId,
      page: entry.page,
      definition: {
        format,
        formatOptions,
        ...(entry.key !== undefined ? { recordKey: entry.key } : {}),
      },
    },
    entry,
  );
}

/**
 * The cursor each source reports from a parsed object: the highest over its pages, none
 * for a source with a quarantined page there (its records were not written: the cursor
 * must not pass them, or the next fetch would not ask for them again).
 */
export class SourceCursors {
  private readonly bySource = new Map<string, string | null>();

  parsed(sourceId: string, cursor: string | undefined): void {
    const kept = this.bySource.get(sourceId);
    if (kept === null) return;
    const higher = higherCursor(kept, cursor);
    if (higher !== undefined) this.bySource.set(sourceId, higher);
  }

  quarantined(sourceId: string): void {
    this.bySource.set(sourceId, null);
  }

  /** The outcome's `cursors` (nothing when no source reports one). */
  outcome(): { cursors?: Record<string, string> } {
    const cursors: Record<string, string> = {};
    for (const [sourceId, cursor] of this.bySource) if (cursor !== null) cursors[sourceId] = cursor;
    return Object.keys(cursors).length > 0 ? { cursors } : {};
  }
}
