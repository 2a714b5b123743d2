import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  encodeS3EventKey,
  type FormatOptions,
  type RawObjectMetadata,
  rawKey,
  toS3Metadata,
} from '@fanout/shared';
import { captureLog, localS3Client, ManualClock, type TestS3 } from '@fanout/testkit';
import { DEFAULTS, type EventDeps } from '../../src/index.js';

export const RUN_ID = '20261125T131000Z';
export const SCHEDULED_AT = '2026-11-25T13:10:00.000Z';
export const FETCHED_AT = '2026-11-25T13:10:03.000Z';

export function metadataFor(
  sourceId: string,
  format: string,
  body: string | Buffer,
  formatOptions: FormatOptions = {},
  contentType?: string,
): RawObjectMetadata {
  return {
    ...(contentType !== undefined ? { contentType } : {}),
    runId: RUN_ID,
    sourceId,
    format,
    formatOptions,
    fetchedAt: FETCHED_AT,
    scheduledAt: SCHEDULED_AT,
    sha256: createHash('sha256').update(body).digest('hex'),
    httpStatus: 200,
    page: 0,
  };
}

/** Stores a raw object the way a collector does; returns its key. */
export async function putRaw(
  s3: TestS3,
  sourceId: string,
  format: string,
  body: string | Buffer,
  {
    extension = 'txt',
    formatOptions = {} as FormatOptions,
    key = '',
    contentType = undefined as string | undefined,
  } = {},
): Promise<string> {
  const target =
    key || rawKey({ sourceId, scheduledAt: SCHEDULED_AT, runId: RUN_ID, page: 0, extension });
  await s3.putText(
    target,
    body,
    toS3Metadata(metadataFor(sourceId, format, body, formatOptions, contentType)),
  );
  return target;
}

/** An S3 ObjectCreated notification for `keys`, encoded as S3 encodes them. */
export function s3Event(bucket: string, ...keys: string[]) {
  return {
    Records: keys.map((key) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: '2026-11-25T13:10:05.000Z',
      eventName: 'ObjectCreated:Put',
      s3: { bucket: { name: bucket }, object: { key: encodeS3EventKey(key), size: 1 } },
    })),
  };
}

export function depsFor(s3: TestS3, overrides: Partial<EventDeps['config']> = {}) {
  const log = captureLog();
  const clock = new ManualClock(Date.parse('2026-11-25T13:10:30Z'));
  const counts = new Map<string, number>();
  const deps: EventDeps = {
    s3: s3.client,
    log,
    clock,
    config: { bucket: s3.bucket, ...DEFAULTS, ...overrides },
    metrics: { add: (name, value) => counts.set(name, (counts.get(name) ?? 0) + value) },
  };
  return { deps, log, clock, counts };
}

/** S3 requests that S3 bills in the PUT class (PUT, COPY, POST, LIST). */
export const PUT_CLASS = new Set([
  'PutObjectCommand',
  'CopyObjectCommand',
  'CreateMultipartUploadCommand',
  'UploadPartCommand',
  'CompleteMultipartUploadCommand',
  'ListObjectsV2Command',
]);

/** A client of its own for the code under test that records each command it sends. */
export function countingClient(s3: TestS3): { client: S3Client; commands: string[] } {
  const client = localS3Client(s3.endpoint);
  const commands: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return { client, commands };
}

/** The parsed object of a single raw object of source `sourceId` in this run (as a prefix). */
export function parsedPrefixFor(sourceId: string): string {
  return `parsed/dt=2026-11-25/${RUN_ID}~${sourceId}~`;
}
