import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  type FormatOptions,
  type PackEntryFields,
  type PackHeader,
  packEntryLine,
  packHeaderLine,
  rawPackKey,
  type TaskOutcome,
} from '@fanout/shared';
import type { TestS3 } from '@fanout/testkit';
import { FETCHED_AT, RUN_ID, SCHEDULED_AT } from './s3.js';

export interface TestEntry {
  readonly sourceId: string;
  readonly page?: number;
  readonly format: string;
  readonly formatOptions?: FormatOptions;
  /** The upstream Content-Type, with any charset parameter. */
  readonly contentType?: string;
  /** A Content-Encoding the stored body still has. */
  readonly contentEncoding?: string;
  /** The source's record key. */
  readonly key?: readonly string[];
  /** What the collector writes for emit: changes and a cursor. */
  readonly selection?: Pick<PackEntryFields, 'emit' | 'previousRawKeys' | 'cursor'>;
  readonly body: string | Buffer;
}

export function entryFields(entry: TestEntry): PackEntryFields {
  const body = typeof entry.body === 'string' ? Buffer.from(entry.body) : entry.body;
  return {
    sourceId: entry.sourceId,
    page: entry.page ?? 0,
    url: `https://example.test/${entry.sourceId}`,
    httpStatus: 200,
    fetchedAt: FETCHED_AT,
    sha256: createHash('sha256').update(body).digest('hex'),
    format: entry.format,
    formatOptions: entry.formatOptions ?? {},
    ...(entry.contentType !== undefined ? { contentType: entry.contentType } : {}),
    ...(entry.contentEncoding !== undefined ? { contentEncoding: entry.contentEncoding } : {}),
    ...(entry.key !== undefined ? { key: [...entry.key] } : {}),
    ...entry.selection,
  };
}

export function entryLine(entry: TestEntry): string {
  const body = typeof entry.body === 'string' ? Buffer.from(entry.body) : entry.body;
  return packEntryLine(entryFields(entry), body);
}

/** An `ok` outcome of `sourceId` in a pack at `key`, as a header holds it. */
function collectedOutcome(sourceId: string, key: string): TaskOutcome {
  return {
    status: 'ok',
    sourceId,
    attempts: 1,
    durationMs: 10,
    httpStatus: 200,
    bytes: 10,
    rawKeys: [key],
    validators: {},
    finishedAt: FETCHED_AT,
  };
}

export function headerLine(
  batchId: string,
  hop: number,
  entries: number,
  collected: readonly string[] = [],
): string {
  const key = rawPackKey({ runId: RUN_ID, scheduledAt: SCHEDULED_AT, batchId, hop });
  const header: PackHeader = {
    kind: 'fanout.pack',
    version: 1,
    runId: RUN_ID,
    batchId,
    hop,
    scheduledAt: SCHEDULED_AT,
    entries,
    result: {
      runId: RUN_ID,
      batchId,
      hop,
      outcomes: collected.map((sourceId) => collectedOutcome(sourceId, key)),
      continued: [],
      writtenAt: FETCHED_AT,
    },
  };
  return packHeaderLine(header);
}

/**
 * A pack as a collector stores it: the header in one gzip member, the entries in a
 * second. `lines` are entry lines as stored (see `entryLine`); `announced` overrides the
 * header's entry count (a truncated pack announces more than it holds).
 */
export function packBytes(
  batchId: string,
  hop: number,
  lines: readonly string[],
  announced = lines.length,
  collected: readonly string[] = [],
): Buffer {
  return Buffer.concat([
    gzipSync(headerLine(batchId, hop, announced, collected)),
    gzipSync(lines.join('')),
  ]);
}

let nextBatch = 0;

/** A fresh pack key (its own batch), so tests sharing one server never collide. */
export function freshPackKey(hop = 0): { key: string; batchId: string; hop: number } {
  nextBatch += 1;
  const batchId = `b${String(nextBatch).padStart(5, '0')}`;
  return {
    key: rawPackKey({ runId: RUN_ID, scheduledAt: SCHEDULED_AT, batchId, hop }),
    batchId,
    hop,
  };
}

/**
 * Stores a pack of `entries` at a fresh key; returns the key. `collected`: the sources whose
 * outcome in the header is `ok` (by default none: most tests need no outcomes).
 */
export async function putPack(
  s3: TestS3,
  lines: readonly string[],
  announced?: number,
  collected: readonly string[] = [],
) {
  const { key, batchId, hop } = freshPackKey();
  const bytes = packBytes(batchId, hop, lines, announced, collected);
  await s3.putText(key, bytes);
  return { key, bytes };
}
