import { gzipSync } from 'node:zlib';
import {
  type BatchFailure,
  type BatchResult,
  batchFailureKey,
  batchResultKey,
  type PackEntryFields,
  type ParsedObjectOutcome,
  packEntryLine,
  packHeaderLine,
  parsedKeyForRaw,
  type QuarantineReport,
  quarantineReportKeyForEntry,
  quarantineReportKeyForRaw,
  type RunManifest,
  rawKey,
  rawPackKey,
  runManifestKey,
  type TaskOutcome,
  toParsedObjectMetadata,
} from '@fanout/shared';
import type { TestS3 } from '@fanout/testkit';

/**
 * Hand-made run records, written the way the manager, collector and parser write
 * them (contract builders, real keys), so a reader is tested against the layout
 * and not against itself.
 */

export const SCHEDULED_AT = '2026-11-29T08:10:00.000Z';
export const RUN_ID = '20261129T081000Z';
const AT = '2026-11-29T08:10:30.000Z';
const SHA = 'a'.repeat(64);

export function aManifest(batches: string[][], overrides: Partial<RunManifest> = {}): RunManifest {
  return {
    runId: RUN_ID,
    scheduledAt: SCHEDULED_AT,
    trigger: 'schedule',
    status: 'planned',
    sourceCount: batches.flat().length,
    batches: batches.map((sourceIds, index) => ({
      batchId: `b${String(index).padStart(5, '0')}`,
      sourceIds,
      estimateMs: 100,
      payloadBytes: 100,
    })),
    invalidSources: [],
    createdAt: SCHEDULED_AT,
    updatedAt: SCHEDULED_AT,
    ...overrides,
  };
}

export function packKey(batchId: string, hop = 0, runId = RUN_ID): string {
  return rawPackKey({ runId, scheduledAt: SCHEDULED_AT, batchId, hop });
}

export function singleKey(sourceId: string, page = 0, runId = RUN_ID): string {
  return rawKey({ sourceId, scheduledAt: SCHEDULED_AT, runId, page, extension: 'json' });
}

export function ok(sourceId: string, rawKeys: string[], finishedAt = AT): TaskOutcome {
  return {
    status: 'ok',
    sourceId,
    attempts: 1,
    durationMs: 10,
    httpStatus: 200,
    bytes: 10,
    rawKeys,
    validators: { sha256: SHA },
    finishedAt,
  };
}

export function unchanged(sourceId: string): TaskOutcome {
  return {
    status: 'unchanged',
    sourceId,
    attempts: 1,
    durationMs: 5,
    httpStatus: 304,
    validators: {},
    finishedAt: AT,
  };
}

export function failed(sourceId: string, reason = 'HTTP 500 after 3 attempts', finishedAt = AT) {
  const outcome: TaskOutcome = {
    status: 'failed',
    sourceId,
    attempts: 3,
    durationMs: 30,
    reason,
    finishedAt,
  };
  return outcome;
}

export function aResult(
  batchId: string,
  outcomes: TaskOutcome[],
  overrides: Partial<BatchResult> = {},
): BatchResult {
  return {
    runId: RUN_ID,
    batchId,
    hop: 0,
    outcomes,
    continued: [],
    writtenAt: AT,
    ...overrides,
  };
}

function entry(sourceId: string, page: number): PackEntryFields {
  return {
    sourceId,
    page,
    url: `https://example.test/${sourceId}`,
    httpStatus: 200,
    fetchedAt: AT,
    sha256: SHA,
    format: 'json',
    formatOptions: {},
  };
}

/** A pack as the collector stores it: the header member, then the entries member. */
export function packBytes(result: BatchResult, entries?: Buffer): Buffer {
  const pages = result.outcomes.flatMap((outcome) =>
    outcome.status === 'ok'
      ? outcome.rawKeys.map((_, page) => ({ id: outcome.sourceId, page }))
      : [],
  );
  const header = packHeaderLine({
    kind: 'fanout.pack',
    version: 1,
    runId: result.runId,
    batchId: result.batchId,
    hop: result.hop,
    scheduledAt: SCHEDULED_AT,
    entries: pages.length,
    result,
  });
  const body =
    entries ??
    gzipSync(
      pages.map(({ id, page }) => packEntryLine(entry(id, page), Buffer.from('{}'))).join(''),
    );
  return Buffer.concat([gzipSync(header), body]);
}

export async function putPack(s3: TestS3, result: BatchResult, entries?: Buffer): Promise<string> {
  const key = packKey(result.batchId, result.hop, result.runId);
  await s3.putText(key, packBytes(result, entries));
  return key;
}

export async function putResult(s3: TestS3, result: BatchResult): Promise<void> {
  await s3.putJson(batchResultKey(result.runId, result.batchId, result.hop), result);
}

export async function putFailure(s3: TestS3, failure: BatchFailure): Promise<void> {
  await s3.putJson(
    batchFailureKey(failure.runId ?? RUN_ID, failure.batchId ?? 'b00000', failure.hop ?? 0),
    failure,
  );
}

export async function putManifest(s3: TestS3, manifest: RunManifest): Promise<void> {
  await s3.putJson(runManifestKey(manifest.runId), manifest);
}

/** The parsed object of a raw object, its outcome in the metadata (as the parser writes it). */
export async function putParsed(
  s3: TestS3,
  raw: string,
  counts: Partial<ParsedObjectOutcome> = {},
): Promise<void> {
  const outcome: ParsedObjectOutcome = {
    runId: RUN_ID,
    rawKey: raw,
    pages: 1,
    parsed: 1,
    quarantined: 0,
    quarantinedPages: [],
    records: 3,
    bytesIn: 10,
    bytesOut: 10,
    parsedAt: AT,
    ...counts,
  };
  await s3.putText(parsedKeyForRaw(raw), gzipSync(''), toParsedObjectMetadata(outcome));
}

function aReport(raw: string, reason: string, at: string): QuarantineReport {
  return {
    rawKey: raw,
    reason,
    errorName: 'MalformedInputError',
    metadata: {},
    quarantinedAt: at,
  };
}

/** A raw object quarantined whole: its report. */
export async function putQuarantined(
  s3: TestS3,
  raw: string,
  reason = 'malformed json at byte 7',
  at = AT,
): Promise<void> {
  await s3.putJson(quarantineReportKeyForRaw(raw), aReport(raw, reason, at));
}

/** One bad entry of a pack: its report. */
export async function putQuarantinedEntry(
  s3: TestS3,
  pack: string,
  sourceId: string,
  page: number,
  reason: string,
): Promise<void> {
  await s3.putJson(quarantineReportKeyForEntry(pack, sourceId, page), {
    ...aReport(pack, reason, AT),
    sourceId,
    page,
  });
}
