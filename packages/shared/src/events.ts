import * as z from 'zod/mini';
import { ContractValidationError } from './errors.js';
import { BatchIdSchema, RunIdSchema, runIdFromTime, SourceIdSchema } from './ids.js';
import { decodeS3EventKey } from './keys.js';
import { FormatOptionsSchema, FormatSchema } from './manifest.js';
import { check } from './validate.js';

/** A function: every schema here is built on first use (see index.ts). */
const isoTime = () => z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time' });

/** What an EventBridge scheduled rule sends to its Lambda target. */
export const ScheduledRuleEventSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    version: z.optional(z.string()),
    id: z.optional(z.string()),
    'detail-type': z.literal('Scheduled Event'),
    source: z.literal('aws.events'),
    account: z.optional(z.string()),
    time: isoTime(),
    region: z.optional(z.string()),
    resources: z._default(z.array(z.string()), []),
    detail: z.optional(z.unknown()),
  }),
);

/**
 * What our EventBridge Scheduler schedule sends: Scheduler passes the target a
 * fixed input, which the infrastructure fills from Scheduler's context attributes
 * (`<aws.scheduler.scheduled-time>`, `<aws.scheduler.execution-id>`, ...).
 */
export const SchedulerEventSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    'detail-type': z.literal('Scheduled Event'),
    source: z.literal('aws.scheduler'),
    time: isoTime(),
    id: z.optional(z.string()),
    resources: z._default(z.array(z.string()), []),
    attempt: z.optional(z.union([z.string(), z.number()])),
  }),
);

/** The Scheduler input template the infrastructure configures (see SchedulerEventSchema). */
export const SCHEDULER_INPUT_TEMPLATE = {
  'detail-type': 'Scheduled Event',
  source: 'aws.scheduler',
  time: '<aws.scheduler.scheduled-time>',
  id: '<aws.scheduler.execution-id>',
  resources: ['<aws.scheduler.schedule-arn>'],
  attempt: '<aws.scheduler.attempt-number>',
} as const;

/** A run started by hand (`fanout` CLI, console test event). */
export const ManualTriggerSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    type: z.literal('fanout.manual'),
    runId: RunIdSchema,
    /** Only these sources; all when absent. */
    sources: z.optional(z.array(SourceIdSchema).check(z.minLength(1))),
    /** Scheduled time to record for the run; the first delivery's clock when absent. */
    time: z.optional(isoTime()),
  }),
);
export type ManualTrigger = z.infer<typeof ManualTriggerSchema>;

/** A manager invoking itself on a slice of a run's batches (two-level fan-out). */
export const DispatchPartEventSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    type: z.literal('fanout.dispatch'),
    runId: RunIdSchema,
    batchIds: z.array(BatchIdSchema).check(z.minLength(1)),
    part: z.number().check(z.int(), z.nonnegative()),
  }),
);
export type DispatchPartEvent = z.infer<typeof DispatchPartEventSchema>;

/**
 * What Lambda sends to a function's on-failure destination once it gives up on an async
 * event (retries or maximum event age exhausted). The collector's destination is the
 * manager, which redrives the hop (aws-facts-2.md, "Lambda async destinations").
 */
export const AsyncFailureRecordSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    version: z.string(),
    timestamp: z.string(),
    requestContext: z.object({
      requestId: z.string(),
      functionArn: z.string(),
      /** `RetriesExhausted`, `EventAgeExceeded`, ... */
      condition: z.string(),
      approximateInvokeCount: z.number().check(z.int(), z.nonnegative()),
    }),
    /** The event Lambda gave up on, as it was sent. */
    requestPayload: z.unknown(),
    responseContext: z.optional(
      z.object({
        statusCode: z.optional(z.number().check(z.int())),
        executedVersion: z.optional(z.string()),
        functionError: z.optional(z.string()),
      }),
    ),
    /** The last attempt's error (`errorType`, `errorMessage`), when there was one. */
    responsePayload: z.optional(z.unknown()),
  }),
);
export type AsyncFailureRecord = z.infer<typeof AsyncFailureRecordSchema>;

/** Every event the manager accepts, normalized. */
export type ManagerTrigger =
  | { kind: 'schedule'; runId: string; scheduledAt: string; via: 'rule' | 'scheduler' }
  | { kind: 'manual'; runId: string; scheduledAt?: string; sources?: string[] }
  | { kind: 'dispatch'; runId: string; batchIds: string[]; part: number }
  | { kind: 'failed-invocation'; failure: AsyncFailureRecord };

/** The run a manager event belongs to (a failure record: the run of the event it holds). */
export function runOfManagerTrigger(trigger: ManagerTrigger): string | undefined {
  if (trigger.kind !== 'failed-invocation') return trigger.runId;
  const payload = trigger.failure.requestPayload as { runId?: unknown } | null | undefined;
  return typeof payload?.runId === 'string' ? payload.runId : undefined;
}

function describeShape(value: unknown): string {
  if (typeof value !== 'object' || value === null) return `got ${JSON.stringify(value)}`;
  const keys = Object.keys(value).slice(0, 6);
  return `got an object with keys ${JSON.stringify(keys)}`;
}

/** Recognizes a manager event by shape and validates it; errors say which shape failed. */
export function parseManagerEvent(event: unknown): ManagerTrigger {
  const record = (typeof event === 'object' && event !== null ? event : {}) as Record<
    string,
    unknown
  >;
  if (record.type === 'fanout.manual') {
    const result = check(ManualTriggerSchema, event);
    if (!result.ok) throw new ContractValidationError('manual trigger', result.issues);
    const { runId, sources, time } = result.value;
    return {
      kind: 'manual',
      runId,
      ...(time ? { scheduledAt: new Date(time).toISOString() } : {}),
      ...(sources ? { sources } : {}),
    };
  }
  if (record.type === 'fanout.dispatch') {
    const result = check(DispatchPartEventSchema, event);
    if (!result.ok) throw new ContractValidationError('dispatch event', result.issues);
    return { kind: 'dispatch', ...result.value };
  }
  if (typeof record.requestContext === 'object' && 'requestPayload' in record) {
    const result = check(AsyncFailureRecordSchema, event);
    if (!result.ok) throw new ContractValidationError('async failure record', result.issues);
    return { kind: 'failed-invocation', failure: result.value };
  }
  if (record.source === 'aws.events' || record.source === 'aws.scheduler') {
    const via = record.source === 'aws.events' ? 'rule' : 'scheduler';
    const schema = via === 'rule' ? ScheduledRuleEventSchema : SchedulerEventSchema;
    const result = check(schema, event);
    if (!result.ok) throw new ContractValidationError(`scheduled event (${via})`, result.issues);
    const scheduledAt = new Date(result.value.time).toISOString();
    return { kind: 'schedule', runId: runIdFromTime(scheduledAt), scheduledAt, via };
  }
  throw new ContractValidationError('manager event', [
    `(root): expected a scheduled event (source aws.events or aws.scheduler), a manual trigger (type fanout.manual), a dispatch event (type fanout.dispatch) or an async failure record (requestContext, requestPayload), ${describeShape(event)}`,
  ]);
}

/** One record of an S3 event notification, as S3 sends it. */
export const S3EventRecordSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({
    eventVersion: z.optional(z.string()),
    eventSource: z.literal('aws:s3'),
    awsRegion: z.optional(z.string()),
    eventTime: z.string(),
    eventName: z.string().check(z.regex(/^ObjectCreated:/, 'must be an ObjectCreated event')),
    s3: z.object({
      bucket: z.object({
        name: z.string().check(z.minLength(1)),
        arn: z.optional(z.string()),
      }),
      object: z.object({
        /** URL-encoded, space as `+`. */
        key: z.string().check(z.minLength(1)),
        size: z.optional(z.number().check(z.int(), z.nonnegative())),
        eTag: z.optional(z.string()),
        versionId: z.optional(z.string()),
        sequencer: z.optional(z.string()),
      }),
    }),
  }),
);

export const S3EventSchema = /* @__PURE__ */ z.lazy(() =>
  z.object({ Records: z.array(z.unknown()).check(z.minLength(1)) }),
);

export interface S3ObjectRef {
  readonly bucket: string;
  /** Decoded key, ready for GetObject. */
  readonly key: string;
  /** The key as it arrived in the event. */
  readonly encodedKey: string;
  readonly size?: number;
  readonly eTag?: string;
  readonly eventTime: string;
  readonly eventName: string;
}

export interface S3EventParseResult {
  readonly objects: S3ObjectRef[];
  /** Records that failed validation, with the reason. */
  readonly invalid: { index: number; errors: string[] }[];
}

/**
 * Validates an S3 notification and decodes each key once. A record that does not
 * validate is reported with its index; the others proceed.
 */
export function parseS3Event(event: unknown): S3EventParseResult {
  const top = check(S3EventSchema, event);
  if (!top.ok) throw new ContractValidationError('S3 event', top.issues);
  const objects: S3ObjectRef[] = [];
  const invalid: { index: number; errors: string[] }[] = [];
  top.value.Records.forEach((record, index) => {
    const result = check(S3EventRecordSchema, record, ['Records', index]);
    if (!result.ok) {
      invalid.push({ index, errors: result.issues });
      return;
    }
    const { s3, eventTime, eventName } = result.value;
    try {
      objects.push({
        bucket: s3.bucket.name,
        key: decodeS3EventKey(s3.object.key),
        encodedKey: s3.object.key,
        ...(s3.object.size !== undefined ? { size: s3.object.size } : {}),
        ...(s3.object.eTag !== undefined ? { eTag: s3.object.eTag } : {}),
        eventTime,
        eventName,
      });
    } catch (error) {
      invalid.push({
        index,
        errors: [`Records[${index}].s3.object.key: ${(error as Error).message}`],
      });
    }
  });
  return { objects, invalid };
}

/** How to parse a source's pages: a format and its options, as a manifest entry gives them. */
export const ParseDefinitionSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({ format: FormatSchema, formatOptions: FormatOptionsSchema }),
);
export type ParseDefinition = z.infer<typeof ParseDefinitionSchema>;

/**
 * What `fanout reparse` adds to the S3 events it sends (`fanout` beside `Records`): how to
 * parse the pages of each source now, from the current source manifest, in place of what
 * was stored with them. A fixed `recordsPath` so reaches data already collected.
 */
export const ReparseExtensionSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({ definitions: z.record(SourceIdSchema, ParseDefinitionSchema) }),
);

/** The parse definitions an event carries (none for S3's own notifications). */
export function parseDefinitionsOf(event: unknown): Map<string, ParseDefinition> | undefined {
  if (typeof event !== 'object' || event === null || !('fanout' in event)) return undefined;
  const result = check(ReparseExtensionSchema, (event as { fanout: unknown }).fanout, ['fanout']);
  if (!result.ok) throw new ContractValidationError('reparse definitions', result.issues);
  return new Map(Object.entries(result.value.definitions));
}
