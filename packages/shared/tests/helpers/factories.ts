import type {
  BatchFailure,
  BatchResult,
  CollectorPayloadInput,
  ParsedObjectOutcome,
  RawObjectMetadata,
  RawObjectOutcome,
  RunManifest,
  SourceInput,
  TaskOutcome,
} from '../../src/index.js';
import s3EventSample from '../fixtures/s3-object-created-event.json';

/**
 * Builders for valid contract values. Each takes overrides so a test states only
 * what it is about; the defaults are valid, so a failure names the override.
 */

export const SCHEDULED_AT = '2026-11-25T13:10:00Z';
export const RUN_ID = '20261125T131000Z';
export const FINISHED_AT = '2026-11-25T13:10:30.000Z';
export const SHA256 = 'a'.repeat(64);

export function aSource(overrides: Partial<SourceInput> = {}): SourceInput {
  return {
    id: 'weather-api',
    url: 'https://api.example.test/v1/weather',
    format: 'json',
    ...overrides,
  };
}

export function aManifest(sources: unknown[]): { version: 1; sources: unknown[] } {
  return { version: 1, sources };
}

export function aScheduledRuleEvent(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  // The shape EventBridge documents for a scheduled rule target.
  return {
    version: '0',
    id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: SCHEDULED_AT,
    region: 'eu-west-1',
    resources: ['arn:aws:events:eu-west-1:123456789012:rule/fanout-schedule'],
    detail: {},
    ...overrides,
  };
}

/** What Scheduler writes into each placeholder of an input template. */
export interface SchedulerContext {
  readonly scheduledTime: string;
  readonly executionId: string;
  readonly scheduleArn: string;
  readonly attemptNumber: string;
}

export const SCHEDULER_CONTEXT: SchedulerContext = {
  scheduledTime: SCHEDULED_AT,
  executionId: 'c1a7f0d2-5f3e-4b8e-9d2a-3f1e2d4c5b6a',
  scheduleArn: 'arn:aws:scheduler:eu-west-1:123456789012:schedule/default/fanout',
  attemptNumber: '1',
};

/**
 * Substitutes Scheduler's context attributes into a template the way Scheduler
 * does: textually, inside the JSON input string.
 */
export function substituteSchedulerTemplate(
  template: unknown,
  context: SchedulerContext = SCHEDULER_CONTEXT,
): unknown {
  const text = JSON.stringify(template)
    .replaceAll('<aws.scheduler.scheduled-time>', context.scheduledTime)
    .replaceAll('<aws.scheduler.execution-id>', context.executionId)
    .replaceAll('<aws.scheduler.schedule-arn>', context.scheduleArn)
    .replaceAll('<aws.scheduler.attempt-number>', context.attemptNumber);
  return JSON.parse(text);
}

export function aCollectorPayload(
  overrides: Partial<CollectorPayloadInput> = {},
): CollectorPayloadInput {
  return {
    version: 1,
    runId: RUN_ID,
    scheduledAt: SCHEDULED_AT,
    batchId: 'b00000',
    hop: 0,
    tasks: [{ source: aSource(), estimateMs: 1_200 }],
    ...overrides,
  };
}

export function rawMetadata(overrides: Partial<RawObjectMetadata> = {}): RawObjectMetadata {
  return {
    runId: RUN_ID,
    sourceId: 'weather-api',
    batchId: 'b00003',
    format: 'csv',
    formatOptions: { delimiter: ';', header: true },
    contentType: 'text/csv; charset=utf-8',
    fetchedAt: FINISHED_AT,
    scheduledAt: SCHEDULED_AT,
    sha256: SHA256,
    httpStatus: 200,
    page: 0,
    ...overrides,
  };
}

/** The raw key a collector writes for page 0 of `sourceId` in the default run. */
export function rawKeyOf(sourceId: string, page = 0): string {
  return `raw/source=${sourceId}/dt=2026-11-25/${RUN_ID}-p${String(page).padStart(4, '0')}.json`;
}

type OkOutcome = Extract<TaskOutcome, { status: 'ok' }>;
type UnchangedOutcome = Extract<TaskOutcome, { status: 'unchanged' }>;
type FailedOutcome = Extract<TaskOutcome, { status: 'failed' }>;

export function okOutcome(sourceId: string, overrides: Partial<OkOutcome> = {}): OkOutcome {
  return {
    status: 'ok',
    sourceId,
    attempts: 1,
    durationMs: 420,
    httpStatus: 200,
    bytes: 2_048,
    rawKeys: [rawKeyOf(sourceId)],
    validators: { etag: '"abc"', sha256: SHA256 },
    finishedAt: FINISHED_AT,
    ...overrides,
  };
}

export function unchangedOutcome(sourceId: string, finishedAt = FINISHED_AT): UnchangedOutcome {
  return {
    status: 'unchanged',
    sourceId,
    attempts: 1,
    durationMs: 80,
    httpStatus: 304,
    validators: { etag: '"abc"' },
    finishedAt,
  };
}

export function failedOutcome(sourceId: string, finishedAt = FINISHED_AT): FailedOutcome {
  return {
    status: 'failed',
    sourceId,
    attempts: 3,
    durationMs: 10_000,
    reason: 'timeout after 10000 ms',
    finishedAt,
  };
}

export function aBatchResult(
  outcomes: TaskOutcome[],
  overrides: Partial<BatchResult> = {},
): BatchResult {
  return {
    runId: RUN_ID,
    batchId: 'b00000',
    hop: 0,
    outcomes,
    continued: [],
    writtenAt: FINISHED_AT,
    ...overrides,
  };
}

export function aBatchFailure(
  sourceIds: string[],
  overrides: Partial<BatchFailure> = {},
): BatchFailure {
  return {
    kind: 'dispatch-failed',
    runId: RUN_ID,
    batchId: 'b00001',
    hop: 0,
    reason: 'Lambda Invoke: TooManyRequestsException',
    sourceIds,
    payload: { version: 1 },
    recordedAt: FINISHED_AT,
    ...overrides,
  };
}

/** The parse outcome a parser stores on the parsed object of `rawKey`. */
export function aParsedObjectOutcome(
  rawKey: string,
  overrides: Partial<ParsedObjectOutcome> = {},
): ParsedObjectOutcome {
  return {
    runId: RUN_ID,
    rawKey,
    pages: 1,
    parsed: 1,
    quarantined: 0,
    quarantinedPages: [],
    records: 12,
    bytesIn: 2_048,
    bytesOut: 512,
    parsedAt: FINISHED_AT,
    ...overrides,
  };
}

/** A raw object parsed in full: `[rawKey, outcome]` for `RunRecords.rawOutcomes`. */
export function parsedOk(
  rawKey: string,
  overrides: Partial<ParsedObjectOutcome> = {},
): [string, RawObjectOutcome] {
  return [rawKey, { status: 'parsed', outcome: aParsedObjectOutcome(rawKey, overrides) }];
}

/** A raw object quarantined whole. */
export function parsedQuarantined(rawKey: string): [string, RawObjectOutcome] {
  return [rawKey, { status: 'quarantined', reason: 'Unexpected token } in JSON' }];
}

/** A run manifest planning one batch per list of source ids. */
export function aRunManifest(
  batches: string[][],
  overrides: Partial<RunManifest> = {},
): RunManifest {
  return {
    runId: RUN_ID,
    scheduledAt: SCHEDULED_AT,
    trigger: 'schedule',
    status: 'dispatched',
    sourceCount: batches.flat().length,
    batches: batches.map((sourceIds, index) => ({
      batchId: `b${String(index).padStart(5, '0')}`,
      sourceIds,
      estimateMs: 1_000 * sourceIds.length,
      payloadBytes: 400 * sourceIds.length,
    })),
    invalidSources: [],
    createdAt: SCHEDULED_AT,
    updatedAt: FINISHED_AT,
    ...overrides,
  };
}

/**
 * An S3 ObjectCreated notification with one record per encoded key, built from
 * the example event in AWS's S3 documentation (tests/fixtures).
 */
export function anS3Event(
  encodedKeys: string[],
  overrides: { eventName?: string; bucket?: string } = {},
): { Records: unknown[] } {
  const sample = s3EventSample.Records[0];
  if (sample === undefined) throw new Error('the S3 event fixture has no record');
  return {
    Records: encodedKeys.map((key) => ({
      ...sample,
      eventName: overrides.eventName ?? sample.eventName,
      s3: {
        ...sample.s3,
        bucket: { ...sample.s3.bucket, name: overrides.bucket ?? sample.s3.bucket.name },
        object: { ...sample.s3.object, key },
      },
    })),
  };
}
