import { CopyObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  parse,
  type QuarantineReport,
  QuarantineReportSchema,
  quarantineKeyForEntry,
  quarantineKeyForRaw,
  quarantineReportKeyForEntry,
  quarantineReportKeyForRaw,
} from '@fanout/shared';
import { copySource } from './copy-source.js';
import type { UnparseableObjectError } from './errors.js';
import type { ParserDeps } from './raw-object.js';

/** CopyObject copies at most 5 GiB in one request (larger needs UploadPartCopy). */
export const COPY_OBJECT_MAX_BYTES = 5 * 1024 * 1024 * 1024;

export function isNotFound(error: unknown): boolean {
  const name = (error as { name?: unknown }).name;
  return name === 'NoSuchKey' || name === 'NotFound';
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

export interface QuarantinedObject {
  readonly report: QuarantineReport;
  readonly reportKey: string;
  /** Where the copy is; absent when there is none (too large, or gone before the copy). */
  readonly quarantineKey?: string;
}

/** What the quarantine of a whole raw object knows about it. */
export interface WholeObjectFacts {
  readonly key: string;
  readonly metadata: Record<string, string>;
  readonly size?: number;
}

/**
 * Moves an unparseable raw object (a single response, or a whole pack) aside: a copy
 * under quarantine/ and an error report beside it. A raw object that is gone by the time
 * of the copy (deleted since the event, or at a key the copy cannot name) is not a fault
 * a retry can fix: the report says so and the event ends.
 */
export async function quarantineObject(
  deps: ParserDeps,
  facts: WholeObjectFacts,
  error: UnparseableObjectError,
): Promise<QuarantinedObject> {
  const { key } = facts;
  const quarantineKey = quarantineKeyForRaw(key);
  const reportKey = quarantineReportKeyForRaw(key);
  let note = '';
  if (facts.size !== undefined && facts.size > COPY_OBJECT_MAX_BYTES) {
    note = ` (not copied: larger than CopyObject's ${COPY_OBJECT_MAX_BYTES}-byte limit; the raw object stays at its key)`;
  } else {
    try {
      await deps.s3.send(
        new CopyObjectCommand({
          Bucket: deps.config.bucket,
          Key: quarantineKey,
          CopySource: copySource(deps.config.bucket, key),
        }),
      );
    } catch (copyError) {
      if (!isNotFound(copyError)) throw copyError;
      // Logged by the caller with the report's reason, which carries this note.
      note = ' (not copied: the raw object was not found when copying it to quarantine)';
    }
  }
  const report = parse(
    QuarantineReportSchema,
    {
      rawKey: key,
      reason: `${error.message}${note}`,
      errorName: error.name,
      ...(error.location ? { location: error.location } : {}),
      metadata: facts.metadata,
      quarantinedAt: new Date(deps.clock.now()).toISOString(),
    },
    'quarantine report',
  );
  await putJson(deps, reportKey, report);
  return { report, reportKey, ...(note === '' ? { quarantineKey } : {}) };
}

/** One bad entry of a pack: who it belongs to and the line as it was stored. */
export interface BadEntry {
  readonly packKey: string;
  readonly sourceId: string;
  readonly page: number;
  /** The entry's line in the pack (1-based; line 1 is the header). */
  readonly packLine: number;
  readonly text: string;
  /** What the entry says about itself (format, url, ...), for the report. */
  readonly metadata: Record<string, string>;
}

/** Quarantines one entry of a pack: its stored line and a report, both keyed by source and page. */
export async function quarantineEntry(
  deps: ParserDeps,
  entry: BadEntry,
  error: UnparseableObjectError,
): Promise<QuarantinedObject & { readonly quarantineKey: string }> {
  const quarantineKey = quarantineKeyForEntry(entry.packKey, entry.sourceId, entry.page);
  const reportKey = quarantineReportKeyForEntry(entry.packKey, entry.sourceId, entry.page);
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.config.bucket,
      Key: quarantineKey,
      Body: entry.text,
      ContentType: 'application/json',
    }),
  );
  const where = `pack line ${entry.packLine}, source ${entry.sourceId} page ${entry.page}`;
  const reason = error.message.includes(`pack line ${entry.packLine}`)
    ? `${error.message} (source ${entry.sourceId} page ${entry.page})`
    : `${where}: ${error.message}`;
  const report = parse(
    QuarantineReportSchema,
    {
      rawKey: entry.packKey,
      sourceId: entry.sourceId,
      page: entry.page,
      reason,
      errorName: error.name,
      location: error.location ?? { line: entry.packLine },
      metadata: { ...entry.metadata, 'pack-line': String(entry.packLine) },
      quarantinedAt: new Date(deps.clock.now()).toISOString(),
    },
    'quarantine report',
  );
  await putJson(deps, reportKey, report);
  return { report, reportKey, quarantineKey };
}
