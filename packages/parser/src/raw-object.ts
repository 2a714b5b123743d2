import { PassThrough, Readable } from 'node:stream';
import {
  CopyObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  type Clock,
  ContractValidationError,
  fromS3Metadata,
  type Log,
  type ParseOutcome,
  ParseOutcomeSchema,
  parse,
  parsedKeyForRaw,
  parseOutcomeKey,
  parseRawKey,
  type QuarantineReport,
  QuarantineReportSchema,
  quarantineKeyForRaw,
  quarantineReportKeyForRaw,
  type RawObjectMetadata,
} from '@fanout/shared';
import type { ParserConfig } from './config.js';
import {
  InvalidMetadataError,
  ParserError,
  RawObjectTooLargeError,
  UnparseableObjectError,
} from './errors.js';
import { defaultExtractors, type ExtractorRegistry } from './formats/registry.js';
import { parseStream } from './parse-stream.js';

/** CopyObject copies at most 5 GiB in one request (larger needs UploadPartCopy). */
export const COPY_OBJECT_MAX_BYTES = 5 * 1024 * 1024 * 1024;

export const PARSED_CONTENT_TYPE = 'application/x-ndjson';

export interface ParserDeps {
  readonly s3: S3Client;
  readonly log: Log;
  readonly clock: Clock;
  readonly config: ParserConfig;
  readonly extractors?: ExtractorRegistry;
}

export type RawObjectResult =
  | {
      readonly status: 'parsed';
      readonly key: string;
      readonly outcome: Extract<ParseOutcome, { status: 'ok' }>;
    }
  | {
      readonly status: 'quarantined';
      readonly key: string;
      readonly report: QuarantineReport;
      /** Absent when neither the metadata nor the key names a run to record it under. */
      readonly outcome?: ParseOutcome;
    }
  | { readonly status: 'missing'; readonly key: string };

interface ObjectFacts {
  readonly key: string;
  readonly metadata: Record<string, string>;
  readonly parsed?: RawObjectMetadata;
  readonly size?: number;
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: unknown }).name;
  return name === 'NoSuchKey' || name === 'NotFound';
}

/**
 * `x-amz-copy-source` is URL-encoded: `+` must be %2B (else S3 reads a space),
 * spaces and non-ASCII as %XX. Sub-delimiters such as `=` (in every raw key:
 * `source=`, `dt=`) stay literal: S3 accepts them, and s3rver decodes the
 * header with decodeURI, which would leave %3D undecoded.
 */
export function copySource(bucket: string, key: string): string {
  const encoded = key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment).replace(/%(3D|3A|40|2C|3B|24|26)/g, (sequence) =>
        decodeURIComponent(sequence),
      ),
    )
    .join('/');
  return `${bucket}/${encoded}`;
}

async function putJson(deps: ParserDeps, key: string, value: unknown): Promise<void> {
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.config.bucket,
      Key: key,
      Body: `${JSON.stringify(value, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );
}

/**
 * Moves an unparseable raw object aside: a copy under quarantine/, an error
 * report beside it, then the parse outcome (written last: it marks the object done).
 */
async function quarantine(
  deps: ParserDeps,
  facts: ObjectFacts,
  error: UnparseableObjectError,
): Promise<RawObjectResult> {
  const { key } = facts;
  const quarantineKey = quarantineKeyForRaw(key);
  const reportKey = quarantineReportKeyForRaw(key);
  const at = new Date(deps.clock.now()).toISOString();
  const copied = facts.size === undefined || facts.size <= COPY_OBJECT_MAX_BYTES;
  if (copied) {
    await deps.s3.send(
      new CopyObjectCommand({
        Bucket: deps.config.bucket,
        Key: quarantineKey,
        CopySource: copySource(deps.config.bucket, key),
      }),
    );
  }
  const reason = copied
    ? error.message
    : `${error.message} (not copied: larger than CopyObject's ${COPY_OBJECT_MAX_BYTES}-byte limit; the raw object stays at its key)`;
  const report = parse(
    QuarantineReportSchema,
    {
      rawKey: key,
      reason,
      errorName: error.name,
      ...(error.location ? { location: error.location } : {}),
      metadata: facts.metadata,
      quarantinedAt: at,
    },
    'quarantine report',
  );
  await putJson(deps, reportKey, report);

  const keyParts = parseRawKey(key);
  const runId = facts.parsed?.runId ?? keyParts?.runId;
  const sourceId = facts.parsed?.sourceId ?? keyParts?.sourceId;
  const format = facts.parsed?.format ?? facts.metadata.format;
  const logFields = {
    key,
    runId,
    sourceId,
    format,
    reason,
    errorName: error.name,
    location: error.location,
    quarantineKey,
  };
  if (runId === undefined) {
    deps.log.warn('raw object quarantined; no run id to record a parse outcome under', logFields);
    return { status: 'quarantined', key, report };
  }
  const outcome = parse(
    ParseOutcomeSchema,
    {
      status: 'quarantined',
      rawKey: key,
      runId,
      ...(sourceId !== undefined ? { sourceId } : {}),
      ...(format !== undefined ? { format } : {}),
      quarantineKey,
      reportKey,
      reason,
      ...(error.location ? { location: error.location } : {}),
      parsedAt: at,
    },
    'parse outcome',
  );
  await putJson(deps, parseOutcomeKey(runId, key), outcome);
  deps.log.warn('raw object quarantined', logFields);
  return { status: 'quarantined', key, report, outcome };
}

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

/**
 * Parses one raw object into gzip NDJSON at its parsed key and records the
 * outcome; quarantines it when it cannot be parsed. Throws only for faults a
 * retry can fix (S3 errors, network), leaving no partial output behind.
 */
export async function parseRawObject(deps: ParserDeps, key: string): Promise<RawObjectResult> {
  const { config, s3 } = deps;
  let response: GetObjectCommandOutput;
  try {
    response = await s3.send(new GetObjectCommand({ Bucket: config.bucket, Key: key }));
  } catch (error) {
    if (isNotFound(error)) {
      // Deleted since the event was sent: nothing to parse, and a retry cannot bring it back.
      deps.log.warn('raw object no longer exists; skipped', { key });
      return { status: 'missing', key };
    }
    throw error;
  }
  const body = bodyStream(response, key);
  const metadata = response.Metadata ?? {};
  const size = response.ContentLength;
  const base = { key, metadata, ...(size !== undefined ? { size } : {}) };

  const meta = readMetadata(metadata);
  if (!meta.ok) {
    body.destroy();
    return quarantine(deps, base, meta.error);
  }
  const facts: ObjectFacts = { ...base, parsed: meta.value };
  if (size !== undefined && size > config.maxRawBytes) {
    body.destroy();
    return quarantine(deps, facts, new RawObjectTooLargeError(size, config.maxRawBytes));
  }
  const extractors = deps.extractors ?? defaultExtractors;
  const { format, formatOptions, runId, sourceId, fetchedAt } = meta.value;
  try {
    extractors.get(format);
  } catch (error) {
    body.destroy();
    if (error instanceof UnparseableObjectError) return quarantine(deps, facts, error);
    throw error;
  }

  const outputKey = parsedKeyForRaw(key);
  const output = new PassThrough();
  const upload = new Upload({
    client: s3,
    params: {
      Bucket: config.bucket,
      Key: outputKey,
      Body: output,
      ContentType: PARSED_CONTENT_TYPE,
      ContentEncoding: 'gzip',
      Metadata: { 'run-id': runId, 'source-id': sourceId, format },
    },
    partSize: config.uploadPartBytes,
    queueSize: config.uploadQueueSize,
    // A failed parse must leave nothing behind: incomplete parts are aborted.
    leavePartsOnError: false,
  });
  let uploadError: unknown;
  const uploaded = upload.done().catch((error: unknown) => {
    uploadError = error;
    // Unblocks the parse, which would otherwise wait on backpressure forever.
    output.destroy(error instanceof Error ? error : new Error(String(error)));
  });

  let stats: Awaited<ReturnType<typeof parseStream>>;
  try {
    stats = await parseStream(body, output, {
      format,
      formatOptions,
      envelope: { sourceId, runId, fetchedAt },
      limits: config,
      gzipLevel: config.gzipLevel,
      extractors,
    });
  } catch (error) {
    // With an error, never a clean end: a clean end would let the upload store partial output.
    output.destroy(new ParserError(`parse of ${JSON.stringify(key)} failed; output discarded`));
    // Waits for lib-storage to abort a multipart upload it had started.
    await uploaded;
    // Bad input decides even if the upload failed too: the upload fails because it was cut off.
    if (error instanceof UnparseableObjectError) return quarantine(deps, facts, error);
    throw uploadError ?? error;
  }
  await uploaded;
  if (uploadError !== undefined) throw uploadError;

  const outcome = parse(
    ParseOutcomeSchema,
    {
      status: 'ok',
      rawKey: key,
      runId,
      sourceId,
      format,
      outputKey,
      records: stats.records,
      bytesIn: stats.bytesIn,
      bytesOut: stats.bytesOut,
      parsedAt: new Date(deps.clock.now()).toISOString(),
    },
    'parse outcome',
  );
  await putJson(deps, parseOutcomeKey(runId, key), outcome);
  deps.log.info('raw object parsed', {
    key,
    runId,
    sourceId,
    format,
    outputKey,
    records: stats.records,
    bytesIn: stats.bytesIn,
    bytesOut: stats.bytesOut,
  });
  return { status: 'parsed', key, outcome: outcome as Extract<ParseOutcome, { status: 'ok' }> };
}
