import * as z from 'zod';
import { ContractValidationError } from './errors.js';
import { BatchIdSchema, RunIdSchema, SourceIdSchema } from './ids.js';
import { SourceSchema } from './manifest.js';
import { OriginAllowancesSchema } from './origins.js';
import { CursorValueSchema } from './record-selection.js';
import { check } from './validate.js';

/** What the collector remembers of a source between runs, for conditional fetches. */
export const ValidatorsSchema = z
  .object({
    etag: z.string().optional(),
    lastModified: z.string().optional(),
    /** sha256 (hex) of the last stored body, over all its pages. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be a hex sha256')
      .optional(),
  })
  .strict();
export type Validators = z.infer<typeof ValidatorsSchema>;

/**
 * A download the hard deadline cut short, to be resumed by the next hop with
 * `Range: bytes=<bytes>-` and `If-Range: <validator>`. The bytes themselves wait in S3
 * at `key`; a payload cannot carry them.
 */
export const ResumeSchema = z
  .object({
    /** S3 key of the bytes received so far (the body's first `bytes` bytes). */
    key: z.string().min(1),
    bytes: z.number().int().positive(),
    /** A strong ETag, or a strong Last-Modified date: what `If-Range` carries. */
    validator: z.string().min(1),
    /** The body's full length, when the server said it. */
    totalBytes: z.number().int().positive().optional(),
    /** Time spent receiving those bytes, over all hops so far (for the rate). */
    downloadMs: z.number().int().nonnegative(),
  })
  .strict();
export type Resume = z.infer<typeof ResumeSchema>;

/**
 * What the earlier hops of a run learned of a task they handed on: the next hop counts
 * on from there, so retries do not start over at every hop and a failure names its
 * last real cause.
 */
export const TriedSchema = z
  .object({
    /** Requests made for the task so far. */
    attempts: z.number().int().nonnegative(),
    /** Of those, attempts that failed (timeout, network error, retryable status). */
    failures: z.number().int().nonnegative(),
    /** Why the last failed attempt failed (redacted). */
    lastError: z.string().min(1).optional(),
    /** The body came encoded (so it could not be resumed): ask for it unencoded. */
    identityBody: z.literal(true).optional(),
  })
  .strict();
export type Tried = z.infer<typeof TriedSchema>;

/** What a task of a source that follows links carries for them. */
export const FollowPlanSchema = z
  .object({
    /** Links followed at most this run: the source's `max`, within its share of the run's limit. */
    max: z.number().int().nonnegative(),
    /** Validators of its detail pages from the last run, by link hash (`linkHash`). */
    previous: z.record(z.string().regex(/^[0-9a-f]{16}$/), ValidatorsSchema).optional(),
  })
  .strict();
export type FollowPlan = z.infer<typeof FollowPlanSchema>;

/** Where a detail page's link was found. */
export const TaskLinkSchema = z
  .object({
    /** The source whose page held the link. */
    sourceId: SourceIdSchema,
    /** The URL of that page (redacted). */
    from: z.string().min(1),
  })
  .strict();
export type TaskLink = z.infer<typeof TaskLinkSchema>;

/** How a hop spreads the detail pages it found over new batches (the manager's batch limits). */
export const FollowSpreadSchema = z
  .object({
    /** Detail tasks a batch takes before another is started. */
    tasksPerBatch: z.number().int().min(1),
    /** Batches one hop starts at most. */
    maxBatches: z.number().int().min(1).max(999),
  })
  .strict();
export type FollowSpread = z.infer<typeof FollowSpreadSchema>;

/**
 * Raw objects one fetch may name as its previous: a pack and the pages that were too large
 * for it. A fetch with more (pages of many megabytes each) is compared with nothing.
 */
export const MAX_PREVIOUS_RAW_KEYS = 64;

export const CollectorTaskSchema = z
  .object({
    source: SourceSchema,
    previous: ValidatorsSchema.optional(),
    /**
     * Bytes of the last stored body (the state's). From the collector's threshold up, the
     * first request asks for `Accept-Encoding: identity`, so a cut download can resume.
     */
    expectedBytes: z.number().int().nonnegative().optional(),
    /**
     * For `emit: "changes"` (the state's): the raw objects of the source's previous fetch,
     * whose records the parser leaves out of this fetch's output.
     */
    previousRawKeys: z.array(z.string().min(1)).min(1).max(MAX_PREVIOUS_RAW_KEYS).optional(),
    /** For a `cursor` (the state's): the highest value seen so far, as JSON text. */
    cursor: CursorValueSchema.optional(),
    /** Set by the collector on a continuation: where an interrupted download resumes. */
    resume: ResumeSchema.optional(),
    /** Set by the collector on a continuation: attempts and failures of earlier hops. */
    tried: TriedSchema.optional(),
    /** The planner's estimate of this task's duration. */
    estimateMs: z.number().int().nonnegative(),
    /** A source that follows links (`follow`): how many, and what the last run learned of them. */
    follow: FollowPlanSchema.optional(),
    /** A detail page: the source whose page linked it, and that page. */
    link: TaskLinkSchema.optional(),
  })
  .strict();
export type CollectorTask = z.infer<typeof CollectorTaskSchema>;

/**
 * How many times the manager re-sends a collector hop that Lambda gave up on before the
 * hop is recorded as failed (for `replay`): with Lambda's own 2 retries, 9 attempts.
 */
export const MAX_REDRIVES = 2;

/** Maximum continuation hops before a batch's remaining tasks are recorded as failed. */
export const DEFAULT_MAX_HOPS = 5;

export const CollectorPayloadSchema = z
  .object({
    version: z.literal(1),
    runId: RunIdSchema,
    /** The run's scheduled time (ISO), which fixes the `dt=` partition of every key. */
    scheduledAt: z.iso.datetime({ offset: true }),
    batchId: BatchIdSchema,
    /** 0 for the manager's invocation; each continuation adds one. */
    hop: z.number().int().nonnegative(),
    tasks: z.array(CollectorTaskSchema).min(1),
    /**
     * Set when the manager re-sent this hop after Lambda gave up on it (retries or event
     * age exhausted): how many times it was redriven so far, at most `MAX_REDRIVES`.
     */
    redrive: z.number().int().min(1).max(MAX_REDRIVES).optional(),
    /**
     * This invocation's share of each limited origin (see origins.ts): the requests it may
     * have in flight and start per minute. Absent origins are not limited.
     */
    origins: OriginAllowancesSchema.optional(),
    /** How detail pages found by this batch's tasks are spread (sources with `follow`). */
    followSpread: FollowSpreadSchema.optional(),
  })
  .strict();
export type CollectorPayload = z.infer<typeof CollectorPayloadSchema>;
export type CollectorPayloadInput = z.input<typeof CollectorPayloadSchema>;

/** Bytes the payload takes on the wire, to compare with the invoke payload limit. */
export function payloadSize(payload: unknown): number {
  return Buffer.byteLength(JSON.stringify(payload), 'utf8');
}

export function parseCollectorPayload(value: unknown): CollectorPayload {
  const result = check(CollectorPayloadSchema, value);
  if (!result.ok) throw new ContractValidationError('collector payload', result.issues);
  return result.value;
}
