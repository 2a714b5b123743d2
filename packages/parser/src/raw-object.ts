import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  type Clock,
  ContractValidationError,
  fromS3Metadata,
  isPackKey,
  type Log,
  type ParseDefinition,
  type ParsedObjectOutcome,
  parsedKeyForRaw,
  parsePackKey,
  parseRawKey,
  type QuarantineReport,
  type RawObjectMetadata,
  toParsedObjectMetadata,
} from '@fanout/shared';
import type { ParserConfig } from './config.js';
import {
  InvalidMetadataError,
  ParserError,
  RawObjectTooLargeError,
  UnparseableObjectError,
} from './errors.js';
import { defaultExtractors, type ExtractorRegistry } from './formats/registry.js';
import { ParsedObjectWriter } from './output.js';
import { pageName, parsePack, type QuarantinedEntry } from './pack.js';
import { parseStream } from './parse-stream.js';
import { PreviousFetches, selectionFor } from './previous-fetch.js';
import { isNotFound, quarantineObject, type WholeObjectFacts } from './quarantine.js';

export interface ParserDeps {
  readonly s3: S3Client;
  readonly log: Log;
  readonly clock: Clock;
  readonly config: ParserConfig;
  readonly extractors?: ExtractorRegistry;
  /**
   * How to parse each source's pages in place of what was stored with them (a reparse
   * with the current manifest's definitions); absent for S3's own notifications.
   */
  readonly definitions?: ReadonlyMap<string, ParseDefinition>;
}

/** The format and options to parse a source's page with: the event's, else the stored ones. */
export function definitionFor(
  deps: Pick<ParserDeps, 'definitions'>,
  sourceId: string,
  stored: ParseDefinition,
): ParseDefinition {
  return deps.definitions?.get(sourceId) ?? stored;
}

export type RawObjectResult =
  | {
      readonly status: 'parsed';
      readonly key: string;
      readonly outputKey: string;
      /** Also stored as the parsed object's metadata (`fromParsedObjectMetadata` reads it). */
      readonly outcome: ParsedObjectOutcome;
      /** Entries of a pack quarantined on their own (always empty for a single raw object). */
      readonly quarantinedEntries: readonly QuarantinedEntry[];
    }
  | {
      /** The whole raw object (a single response, or a pack that cannot be read) is quarantined. */
      readonly status: 'quarantined';
      readonly key: string;
      readonly report: QuarantineReport;
      readonly reportKey: string;
      /** Absent when no copy was made (over CopyObject's limit, or gone before the copy). */
      readonly quarantineKey?: string;
    }
  | { readonly status: 'missing'; readonly key: string }
  /** A pack holding a hop's record and no pages: nothing to parse, nothing stored. */
  | { readonly status: 'empty'; readonly key: string };

function bodyStream(response: GetObjectCommandOutput, key: string): Readable {
  const body = response.Body;
  if (body instanceof Readable) return body;
  throw new ParserError(`GetObject returned no readable body for ${JSON.stringify(key)}`);
}

function readMetadata(
  metadata: Record<string, string>,
): { ok: true; value: RawObjectMetadata } | { ok: false; error: InvalidMetadataError } {
  try {
    return { ok: true, value: fromS3Metadata(metadata) };
  } catch (error) {
    if (error instanceof ContractValidationError) {
      return { ok: false, error: new InvalidMetadataError(error.issues) };
    }
    throw error;
  }
}

/** Quarantines a whole raw object and logs it once, here, where the decision is made. */
async function quarantined(
  deps: ParserDeps,
  facts: WholeObjectFacts,
  error: UnparseableObjectError,
  context: Record<string, unknown>,
): Promise<RawObjectResult> {
  const done = await quarantineObject(deps, facts, error);
  deps.log.warn('raw object quarantined', {
    key: facts.key,
    ...context,
    reason: done.report.reason,
    errorName: error.name,
    location: error.location,
    quarantineKey: done.quarantineKey,
    reportKey: done.reportKey,
  });
  return { status: 'quarantined', key: facts.key, ...done };
}

async function parsePackObject(
  deps: ParserDeps,
  facts: WholeObjectFacts,
  body: Readable,
): Promise<RawObjectResult> {
  const { key } = facts;
  const runId = parsePackKey(key)?.runId;
  if (facts.size !== undefined && facts.size > deps.config.maxRawBytes) {
    body.destroy();
    const error = new RawObjectTooLargeError(facts.size, deps.config.maxRawBytes);
    return quarantined(deps, facts, error, { runId, pack: true });
  }
  const outputKey = parsedKeyForRaw(key);
  const result = await parsePack(deps, key, body, outputKey);
  if (result.status === 'unreadable') {
    return quarantined(deps, facts, result.error, { runId, pack: true });
  }
  if (result.status === 'empty') {
    deps.log.info('pack holds no pages; nothing to parse', { key, runId });
    return { status: 'empty', key };
  }
  const { outcome } = result;
  deps.log.info('pack parsed', { key, outputKey, ...outcome, recordsLeftOut: result.leftOut });
  return {
    status: 'parsed',
    key,
    outputKey,
    outcome,
    quarantinedEntries: result.quarantinedEntries,
  };
}

async function parseSingleObject(
  deps: ParserDeps,
  base: WholeObjectFacts,
  body: Readable,
): Promise<RawObjectResult> {
  const { config, s3 } = deps;
  const { key, size } = base;
  const keyParts = parseRawKey(key);
  const meta = readMetadata(base.metadata);
  if (!meta.ok) {
    body.destroy();
    // The key names the run and source when the metadata cannot be trusted.
    const context = { runId: keyParts?.runId, sourceId: keyParts?.sourceId };
    return quarantined(deps, base, meta.error, context);
  }
  const { recordKey, contentType, runId, sourceId, fetchedAt, page, url, cursor } = meta.value;
  const { format, formatOptions } = definitionFor(deps, sourceId, meta.value);
  const context = { runId, sourceId, format };
  if (size !== undefined && size > config.maxRawBytes) {
    body.destroy();
    return quarantined(deps, base, new RawObjectTooLargeError(size, config.maxRawBytes), context);
  }
  const extractors = deps.extractors ?? defaultExtractors;
  try {
    extractors.get(format);
  } catch (error) {
    body.destroy();
    if (error instanceof UnparseableObjectError) return quarantined(deps, base, error, context);
    throw error;
  }

  // Before the parse (the body waits): reading the previous fetch may meet an S3 fault to retry.
  const select = await selectionFor(
    deps,
    new PreviousFetches(deps, (id) => id === sourceId),
    {
      rawKey: key,
      sourceId,
      page,
      definition: { format, formatOptions, ...(recordKey !== undefined ? { recordKey } : {}) },
    },
    meta.value,
  ).catch((error: unknown) => {
    body.destroy();
    throw error;
  });
  const outputKey = parsedKeyForRaw(key);
  const writer = new ParsedObjectWriter({
    s3,
    bucket: config.bucket,
    key: outputKey,
    settings: config,
  });
  let stats: Awaited<ReturnType<typeof parseStream>>;
  try {
    stats = await parseStream(body, writer.stream, {
      format,
      formatOptions,
      ...(contentType !== undefined ? { contentType } : {}),
      ...(url !== undefined ? { pageUrl: url } : {}),
      envelope: { sourceId, runId, page, fetchedAt },
      ...(recordKey !== undefined ? { recordKey } : {}),
      ...(select !== undefined ? { select } : {}),
      limits: config,
      gzipLevel: config.gzipLevel,
      extractors,
    });
  } catch (error) {
    // Nothing is stored yet (or a multipart upload is aborted): a failed parse leaves no output.
    await writer.abort();
    if (error instanceof UnparseableObjectError) return quarantined(deps, base, error, context);
    throw error;
  }
  const outcome: ParsedObjectOutcome = {
    runId,
    rawKey: key,
    pages: 1,
    parsed: 1,
    quarantined: 0,
    quarantinedPages: [],
    ...(stats.decodedAs !== undefined ? { windows1252Pages: [pageName(sourceId, page ?? 0)] } : {}),
    ...(cursor !== undefined && select?.cursor !== undefined
      ? { cursors: { [sourceId]: select.cursor } }
      : {}),
    records: stats.records,
    bytesIn: stats.bytesIn,
    bytesOut: stats.bytesOut,
    parsedAt: new Date(deps.clock.now()).toISOString(),
  };
  await writer.finish(toParsedObjectMetadata(outcome));
  deps.log.info('raw object parsed', {
    key,
    outputKey,
    sourceId,
    format,
    ...outcome,
    ...(stats.leftOut !== undefined ? { recordsLeftOut: stats.leftOut } : {}),
  });
  return { status: 'parsed', key, outputKey, outcome, quarantinedEntries: [] };
}

/**
 * Parses one raw object (a pack of a hop's responses, or a single large response) into
 * ONE gzip NDJSON object at its parsed key, the parse outcome as that object's metadata.
 * What cannot be parsed is quarantined: a bad pack entry alone, or the whole object.
 * Throws only for faults a retry can fix (S3 errors, network), leaving no partial output.
 */
export async function parseRawObject(deps: ParserDeps, key: string): Promise<RawObjectResult> {
  // A pack is written once (first writer wins), so what was read is what stays. A single
  // response can be rewritten at the same key by a retried hop, and each write sends its
  // own event: two parses of one key can overlap, and the one that read the older version
  // may store its output last. So after storing it, the parser checks that the object is
  // still the one it read, and parses again when it is not: the last output stored is then
  // of the newest version, whichever parse stores it.
  let result = await parseRawObjectOnce(deps, key);
  const rewritable = !isPackKey(key);
  for (let again = 0; rewritable && again < MAX_REPARSES && result.etag !== undefined; again += 1) {
    const now = await currentEtag(deps, key);
    // Gone since (a lifecycle rule, a person): what was parsed stands.
    if (now === undefined || now === result.etag) break;
    deps.log.info('raw object changed while it was parsed; parsing it again', { key });
    result = await parseRawObjectOnce(deps, key);
  }
  return result.result;
}

/** How many times a raw object that keeps changing under the parser is parsed again. */
const MAX_REPARSES = 3;

async function currentEtag(deps: ParserDeps, key: string): Promise<string | undefined> {
  try {
    const head = await deps.s3.send(
      new HeadObjectCommand({ Bucket: deps.config.bucket, Key: key }),
    );
    return head.ETag;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function parseRawObjectOnce(
  deps: ParserDeps,
  key: string,
): Promise<{ result: RawObjectResult; etag: string | undefined }> {
  let response: GetObjectCommandOutput;
  try {
    response = await deps.s3.send(new GetObjectCommand({ Bucket: deps.config.bucket, Key: key }));
  } catch (error) {
    if (isNotFound(error)) {
      // Deleted since the event was sent: nothing to parse, and a retry cannot bring it back.
      deps.log.warn('raw object no longer exists; skipped', { key });
      return { result: { status: 'missing', key }, etag: undefined };
    }
    throw error;
  }
  const body = bodyStream(response, key);
  const size = response.ContentLength;
  const facts: WholeObjectFacts = {
    key,
    metadata: response.Metadata ?? {},
    ...(size !== undefined ? { size } : {}),
  };
  const result = isPackKey(key)
    ? await parsePackObject(deps, facts, body)
    : await parseSingleObject(deps, facts, body);
  return { result, etag: response.ETag };
}
