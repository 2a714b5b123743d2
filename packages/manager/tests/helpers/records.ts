import { gzipSync } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  type BatchResult,
  PACK_KIND,
  PACK_VERSION,
  type PackHeader,
  packHeaderLine,
  rawPackKey,
  type TaskOutcome,
} from '@fanout/shared';
import { localS3Client, type TestS3 } from '@fanout/testkit';

/** What a collector reports for a source it fetched: an `ok` outcome with validators. */
export function okOutcome(
  sourceId: string,
  finishedAt: string,
  extra: Partial<Extract<TaskOutcome, { status: 'ok' }>> = {},
): TaskOutcome {
  return {
    status: 'ok',
    sourceId,
    attempts: 1,
    durationMs: 5_000,
    httpStatus: 200,
    bytes: 10,
    rawKeys: ['raw/packs/dt=2026-11-25/x-b00000-h0.pack.ndjson.gz'],
    validators: { etag: `"etag-${sourceId}"` },
    finishedAt,
    ...extra,
  };
}

export interface HopRecordParts {
  readonly runId: string;
  readonly scheduledAt: string;
  readonly batchId: string;
  readonly hop: number;
  readonly outcomes: readonly TaskOutcome[];
  readonly continued?: readonly string[];
}

function batchResult(parts: HopRecordParts): BatchResult {
  return {
    runId: parts.runId,
    batchId: parts.batchId,
    hop: parts.hop,
    outcomes: [...parts.outcomes],
    continued: [...(parts.continued ?? [])],
    writtenAt: parts.scheduledAt,
  };
}

/**
 * Stores a raw pack as a collector does: the header (the hop's outcomes) as the first
 * gzip member, the entries after it. The entries here are empty lines' worth of
 * nothing: the manager reads the header only.
 */
export async function putPack(s3: TestS3, parts: HopRecordParts): Promise<string> {
  const header: PackHeader = {
    kind: PACK_KIND,
    version: PACK_VERSION,
    runId: parts.runId,
    batchId: parts.batchId,
    hop: parts.hop,
    scheduledAt: parts.scheduledAt,
    entries: 0,
    result: batchResult(parts),
  };
  const key = rawPackKey(parts);
  await s3.putText(key, gzipSync(packHeaderLine(header)));
  return key;
}

export { batchResult };

/** An S3 client for the test server that counts the commands it sends, by name. */
export function countingS3Client(s3: TestS3): { client: S3Client; counts: Map<string, number> } {
  const client = localS3Client(s3.endpoint);
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      // `GetObjectCommand` -> `GetObject`: the S3 operation, as billed.
      const name = (context.commandName ?? 'unknown').replace(/Command$/, '');
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return { client, counts };
}
