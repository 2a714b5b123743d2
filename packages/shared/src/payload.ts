import * as z from 'zod/mini';
import { ContractValidationError } from './errors.js';
import { BatchIdSchema, RunIdSchema, SourceIdSchema } from './ids.js';
import { SourceSchema } from './manifest.js';
import { OriginAllowancesSchema } from './origins.js';
import { CursorValueSchema } from './record-selection.js';
import { check } from './validate.js';

/** What the collector remembers of a source between runs, for conditional fetches. */
export const ValidatorsSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    etag: z.optional(z.string()),
    lastModified: z.optional(z.string()),
    /** sha256 (hex) of the last stored body, over all its pages. */
    sha256: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be a hex sha256'))),
  }),
);
export type Validators = z.infer<typeof ValidatorsSchema>;

/**
 * A download the hard deadline cut short, to be resumed by the next hop with
 * `Range: bytes=<bytes>-` and `If-Range: <validator>`. The bytes themselves wait in S3
 * at `key`; a payload cannot carry them.
 */
export const ResumeSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    /** S3 key of the bytes received so far (the body's first `bytes` bytes). */
    key: z.string().check(z.minLength(1)),
    bytes: z.number().check(z.int(), z.positive()),
    /** A strong ETag, or a strong Last-Modified date: what `If-Range` carries. */
    validator: z.string().check(z.minLength(1)),
    /** The body's full length, when the server said it. */
    totalBytes: z.optional(z.number().check(z.int(), z.positive())),
    /** Time spent receiving those bytes, over all hops so far (for the rate). */
    downloadMs: z.number().check(z.int(), z.nonnegative()),
  }),
);
export type Resume = z.infer<typeof ResumeSchema>;

/**
 * What the earlier hops of a run learned of a task they handed on: the next hop counts
 * on from there, so retries do not start over at every hop and a failure names its
 * last real cause.
 */
export const TriedSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    /** Requests made for the task so far. */
    attempts: z.number().check(z.int(), z.nonnegative()),
    /** Of those, attempts that failed (timeout, network error, retryable status). */
    failures: z.number().check(z.int(), z.nonnegative()),
    /** Why the last failed attempt failed (redacted). */
    lastError: z.optional(z.string().check(z.minLength(1))),
    /** The body came encoded (so it could not be resumed): ask for it unencoded. */
    identityBody: z.optional(z.literal(true)),
  }),
);
export type Tried = z.infer<typeof TriedSchema>;

/**
 * Validators of a source's detail pages, by link hash (`linkHash`, 16 hex digits): what a
 * follow plan and the source's state carry (a function, as every schema of the contract is
 * built on first use).
 */
export const linkValidatorsSchema = () =>
  z.record(z.string().check(z.regex(/^[0-9a-f]{16}$/)), ValidatorsSchema);

/** What a task of a source that follows links carries for them. */
export const FollowPlanSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    /** Links followed at most this run: the source's `max`, within its share of the run's limit. */
    max: z.number().check(z.int(), z.nonnegative()),
    /** Validators of its detail pages from the last run, by link hash (`linkHash`). */
    previous: z.optional(linkValidatorsSchema()),
  }),
);
export type FollowPlan = z.infer<typeof FollowPlanSchema>;

/** Where a detail page's link was found. */
export const TaskLinkSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    /** The source whose page held the link. */
    sourceId: SourceIdSchema,
    /** The URL of that page (redacted). */
    from: z.string().check(z.minLength(1)),
  }),
);
export type TaskLink = z.infer<typeof TaskLinkSchema>;

/** How a hop spreads the detail pages it found over new batches (the manager's batch limits). */
export const FollowSpreadSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    /** Detail tasks a batch takes before another is started. */
    tasksPerBatch: z.number().check(z.int(), z.minimum(1)),
    /** Batches one hop starts at most. */
    maxBatches: z.number().check(z.int(), z.minimum(1), z.maximum(999)),
  }),
);
export type FollowSpread = z.infer<typeof FollowSpreadSchema>;

/**
 * Raw objects one fetch may name as its previous: a pack and the pages that were too large
 * for it. A fetch with more (pages of many megabytes each) is compared with nothing.
 */
export const MAX_PREVIOUS_RAW_KEYS = 64;

/**
 * `emit: "changes"`: the raw objects of a source's previous fetch, as the state keeps them and
 * tasks, pack entries and raw object metadata carry them.
 */
export const PreviousRawKeysSchema = /* @__PURE__ */ z.lazy(() =>
  z
    .array(z.string().check(z.minLength(1)))
    .check(z.minLength(1), z.maxLength(MAX_PREVIOUS_RAW_KEYS)),
);

export const CollectorTaskSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    source: SourceSchema,
    previous: z.optional(ValidatorsSchema),
    /**
     * Bytes of the last stored body (the state's). From the collector's threshold up, the
     * first request asks for `Accept-Encoding: identity`, so a cut download can resume.
     */
    expectedBytes: z.optional(z.number().check(z.int(), z.nonnegative())),
    /**
     * For `emit: "changes"` (the state's): the raw objects of the source's previous fetch,
     * whose records the parser leaves out of this fetch's output.
     */
    previousRawKeys: z.optional(PreviousRawKeysSchema),
    /** For a `cursor` (the state's): the highest value seen so far, as JSON text. */
    cursor: z.optional(CursorValueSchema),
    /** Set by the collector on a continuation: where an interrupted download resumes. */
    resume: z.optional(ResumeSchema),
    /** Set by the collector on a continuation: attempts and failures of earlier hops. */
    tried: z.optional(TriedSchema),
    /** The planner's estimate of this task's duration. */
    estimateMs: z.number().check(z.int(), z.nonnegative()),
    /** A source that follows links (`follow`): how many, and what the last run learned of them. */
    follow: z.optional(FollowPlanSchema),
    /** A detail page: the source whose page linked it, and that page. */
    link: z.optional(TaskLinkSchema),
  }),
);
export type CollectorTask = z.infer<typeof CollectorTaskSchema>;

/**
 * How many times the manager re-sends a collector hop that Lambda gave up on before the
 * hop is recorded as failed (for `replay`): with Lambda's own 2 retries, 9 attempts.
 */
export const MAX_REDRIVES = 2;

/** Maximum continuation hops before a batch's remaining tasks are recorded as failed. */
export const DEFAULT_MAX_HOPS = 5;

export const CollectorPayloadSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    version: z.literal(1),
    runId: RunIdSchema,
    /** The run's scheduled time (ISO), which fixes the `dt=` partition of every key. */
    scheduledAt: z.iso.datetime({ offset: true }),
    batchId: BatchIdSchema,
    /** 0 for the manager's invocation; each continuation adds one. */
    hop: z.number().check(z.int(), z.nonnegative()),
    tasks: z.array(CollectorTaskSchema).check(z.minLength(1)),
    /**
     * Set when the manager re-sent this hop after Lambda gave up on it (retries or event
     * age exhausted): how many times it was redriven so far, at most `MAX_REDRIVES`.
     */
    redrive: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(MAX_REDRIVES))),
    /**
     * This invocation's share of each limited origin (see origins.ts): the requests it may
     * have in flight and start per minute. Absent origins are not limited.
     */
    origins: z.optional(OriginAllowancesSchema),
    /** How detail pages found by this batch's tasks are spread (sources with `follow`). */
    followSpread: z.optional(FollowSpreadSchema),
  }),
);
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
