import { type Readable, Writable } from 'node:stream';
import { GetObjectCommand, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import {
  ContractValidationError,
  type FormatOptions,
  fromS3Metadata,
  isPackKey,
  type PackEntry,
  PackFormatError,
  type PageCursor,
  packEntryBody,
  type RecordKey,
  readPack,
} from '@fanout/shared';
import { UnparseableObjectError } from './errors.js';
import { defaultExtractors } from './formats/registry.js';
import { bytesSource, type ParseStreamOptions, parseStream } from './parse-stream.js';
import { isNotFound } from './quarantine.js';
import { definitionFor, type ParserDeps } from './raw-object.js';
import { FetchSelection, PairCollector, PREVIOUS_RECORDS_MAX } from './record-selection.js';

/** How a source's pages are parsed: what decides the key and hash of each record. */
export interface PageDefinition {
  readonly format: string;
  readonly formatOptions: FormatOptions;
  readonly recordKey?: RecordKey;
}

/** The (key, hash) pairs of a source's previous fetch, or why there is nothing to compare with. */
export type PreviousPairs =
  | { readonly ok: true; readonly pairs: ReadonlySet<string> }
  | { readonly ok: false; readonly problem: string };

interface SourcePages {
  /** The definition the pages were read with (`sameDefinition`). */
  readonly definition: PageDefinition;
  readonly pairs: Set<string>;
  problem?: string;
}

function sameDefinition(a: PageDefinition, b: PageDefinition): boolean {
  return (
    a.format === b.format &&
    JSON.stringify(a.formatOptions) === JSON.stringify(b.formatOptions) &&
    JSON.stringify(a.recordKey ?? null) === JSON.stringify(b.recordKey ?? null)
  );
}

/** A stream that keeps nothing: a previous page is read for its pairs, not its output. */
function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

type Page = Pick<ParseStreamOptions, 'contentType' | 'pageUrl' | 'contentEncoding' | 'envelope'>;

/**
 * The previous fetches of the sources a raw object holds, read again from their raw objects
 * (`emit: "changes"`). The records are those the previous fetch's pages give with the
 * current page's definition (its format, options and key; a reparse's too), so a record
 * that did not change has the same key and hash as before. A pack is read once for every
 * source that needs it: along with the source asked for, its entries of sources that emit
 * changes and are among `wanted` (the sources of the raw object being parsed) are read.
 *
 * Nothing to compare with (every record is then written) when the previous raw object is
 * gone (an expiry rule), cannot be read, holds no page of the source, or a page of it does
 * not parse again (its fetch was quarantined: it gave no records either). S3 faults are
 * thrown, for the invocation's retry.
 */
export class PreviousFetches {
  /** Packs read in this parse: the pages found, and the source the pack was read for. */
  private readonly packs = new Map<
    string,
    Promise<{ readonly askedFor: string; readonly pages: Map<string, SourcePages> }>
  >();

  constructor(
    private readonly deps: ParserDeps,
    private readonly wanted: (sourceId: string) => boolean,
  ) {}

  async pairsOf(
    sourceId: string,
    rawKeys: readonly string[],
    definition: PageDefinition,
    parsing: string,
  ): Promise<PreviousPairs> {
    if (rawKeys.includes(parsing)) {
      return { ok: false, problem: `names the raw object being parsed (${parsing})` };
    }
    const pairs = new Set<string>();
    for (const key of new Set(rawKeys)) {
      const read = await this.read(key, sourceId, definition);
      let pages = read.pages.get(sourceId);
      // Read for another source, with this one's stored definition or without it: read again.
      if (
        read.askedFor !== sourceId &&
        (pages === undefined || !sameDefinition(pages.definition, definition))
      ) {
        pages = (await this.readObject(key, sourceId, definition)).get(sourceId);
      }
      if (pages === undefined) return { ok: false, problem: `${key} holds no page of the source` };
      if (pages.problem !== undefined) return { ok: false, problem: `${key}: ${pages.problem}` };
      for (const pair of pages.pairs) pairs.add(pair);
      if (pairs.size > PREVIOUS_RECORDS_MAX) {
        return { ok: false, problem: `more than ${PREVIOUS_RECORDS_MAX} records to compare with` };
      }
    }
    return { ok: true, pairs };
  }

  /** A pack is read once per parse (for all the sources it serves); a single each time asked. */
  private async read(
    key: string,
    sourceId: string,
    definition: PageDefinition,
  ): Promise<{ readonly askedFor: string; readonly pages: Map<string, SourcePages> }> {
    if (!isPackKey(key)) {
      return { askedFor: sourceId, pages: await this.readObject(key, sourceId, definition) };
    }
    let read = this.packs.get(key);
    if (read === undefined) {
      read = this.readObject(key, sourceId, definition).then((pages) => ({
        askedFor: sourceId,
        pages,
      }));
      this.packs.set(key, read);
    }
    return read;
  }

  private async readObject(
    key: string,
    sourceId: string,
    definition: PageDefinition,
  ): Promise<Map<string, SourcePages>> {
    const found = new Map<string, SourcePages>();
    let response: GetObjectCommandOutput;
    try {
      response = await this.deps.s3.send(
        new GetObjectCommand({ Bucket: this.deps.config.bucket, Key: key }),
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
      found.set(sourceId, { definition, pairs: new Set(), problem: 'not found' });
      return found;
    }
    const body = response.Body as Readable;
    if (isPackKey(key)) await this.readPackPages(body, sourceId, definition, found);
    else await this.readSinglePage(body, response.Metadata ?? {}, sourceId, definition, found);
    return found;
  }

  private async readPackPages(
    body: Readable,
    sourceId: string,
    definition: PageDefinition,
    found: Map<string, SourcePages>,
  ): Promise<void> {
    let readError: Error | undefined;
    body.once('error', (error: Error) => {
      readError ??= error;
    });
    let runId = '';
    try {
      for await (const item of readPack(body, {
        maxLineBytes: this.deps.config.maxPackLineBytes,
      })) {
        if (item.kind === 'header') {
          runId = item.header.runId;
          continue;
        }
        const entry = item.entry;
        if (entry === undefined) continue;
        const asked = entry.sourceId === sourceId;
        if (!asked && !(entry.emit === 'changes' && this.wanted(entry.sourceId))) continue;
        const pageDefinition = asked ? definition : this.storedDefinition(entry);
        // Read from memory: whatever fails is the page's own doing.
        await this.collect(
          entry.sourceId,
          pageDefinition,
          found,
          bytesSource(packEntryBody(entry)),
          true,
          {
            ...(entry.contentType !== undefined ? { contentType: entry.contentType } : {}),
            ...(entry.contentEncoding !== undefined
              ? { contentEncoding: entry.contentEncoding }
              : {}),
            pageUrl: entry.url,
            envelope: {
              sourceId: entry.sourceId,
              runId,
              page: entry.page,
              fetchedAt: entry.fetchedAt,
            },
          },
        );
      }
    } catch (error) {
      if (readError !== undefined) throw readError;
      if (!(error instanceof PackFormatError)) throw error;
      const problem = `unreadable pack: ${error.message}`;
      for (const pages of found.values()) pages.problem ??= problem;
      if (!found.has(sourceId)) found.set(sourceId, { definition, pairs: new Set(), problem });
    }
  }

  private async readSinglePage(
    body: Readable,
    metadata: Record<string, string>,
    sourceId: string,
    definition: PageDefinition,
    found: Map<string, SourcePages>,
  ): Promise<void> {
    let meta: ReturnType<typeof fromS3Metadata>;
    try {
      meta = fromS3Metadata(metadata);
    } catch (error) {
      body.destroy();
      if (!(error instanceof ContractValidationError)) throw error;
      found.set(sourceId, { definition, pairs: new Set(), problem: error.message });
      return;
    }
    if (meta.sourceId !== sourceId) {
      body.destroy();
      return;
    }
    await this.collect(sourceId, definition, found, body, false, {
      ...(meta.contentType !== undefined ? { contentType: meta.contentType } : {}),
      ...(meta.url !== undefined ? { pageUrl: meta.url } : {}),
      envelope: { sourceId, runId: meta.runId, page: meta.page, fetchedAt: meta.fetchedAt },
    });
  }

  private storedDefinition(entry: PackEntry): PageDefinition {
    const { format, formatOptions } = definitionFor(this.deps, entry.sourceId, entry);
    return { format, formatOptions, ...(entry.key !== undefined ? { recordKey: entry.key } : {}) };
  }

  /** Parses one previous page into its source's pairs; a page that does not parse marks it. */
  private async collect(
    sourceId: string,
    definition: PageDefinition,
    found: Map<string, SourcePages>,
    input: Readable,
    inMemory: boolean,
    page: Page,
  ): Promise<void> {
    let pages = found.get(sourceId);
    if (pages === undefined) {
      pages = { definition, pairs: new Set() };
      found.set(sourceId, pages);
    }
    if (pages.problem !== undefined) {
      input.destroy();
      return;
    }
    const collector = new PairCollector();
    try {
      await parseStream(input, discard(), {
        ...page,
        format: definition.format,
        formatOptions: definition.formatOptions,
        ...(definition.recordKey !== undefined ? { recordKey: definition.recordKey } : {}),
        limits: this.deps.config,
        gzipLevel: this.deps.config.gzipLevel,
        extractors: this.deps.extractors ?? defaultExtractors,
        select: collector,
      });
    } catch (error) {
      if (!inMemory && !(error instanceof UnparseableObjectError)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      pages.problem = `page ${page.envelope.page ?? 0} does not parse (${reason})`;
      return;
    }
    if (collector.overflowed) {
      pages.problem = `more than ${PREVIOUS_RECORDS_MAX} records to compare with`;
      return;
    }
    for (const pair of collector.pairs) pages.pairs.add(pair);
  }
}

/** What a page says of its source's emit and cursor (a pack entry, a single's metadata). */
export interface PageSelection {
  readonly previousRawKeys?: readonly string[];
  readonly cursor?: PageCursor;
}

/**
 * The selector of a page's records (undefined: every record is written): with the
 * previous fetch's pairs when it names one that can be read again, and the cursor it was
 * fetched with. Reads S3 (and throws its faults), so it runs before the page's parse.
 */
export async function selectionFor(
  deps: Pick<ParserDeps, 'log'>,
  previous: PreviousFetches,
  page: {
    readonly rawKey: string;
    readonly sourceId: string;
    readonly page: number;
    readonly definition: PageDefinition;
  },
  stored: PageSelection,
): Promise<FetchSelection | undefined> {
  if (stored.previousRawKeys === undefined && stored.cursor === undefined) return undefined;
  let pairs: ReadonlySet<string> | undefined;
  if (stored.previousRawKeys !== undefined) {
    const found = await previous.pairsOf(
      page.sourceId,
      stored.previousRawKeys,
      page.definition,
      page.rawKey,
    );
    if (found.ok) pairs = found.pairs;
    else {
      deps.log.warn('previous fetch not compared; every record of the page is written', {
        key: page.rawKey,
        sourceId: page.sourceId,
        page: page.page,
        previousRawKeys: stored.previousRawKeys,
        reason: found.problem,
      });
    }
  }
  return new FetchSelection({
    ...(pairs !== undefined ? { previous: pairs } : {}),
    ...(stored.cursor !== undefined ? { cursor: stored.cursor } : {}),
  });
}
