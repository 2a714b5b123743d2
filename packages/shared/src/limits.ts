/**
 * AWS limits the pipeline depends on. Each figure is documented in AWS's Lambda,
 * S3 and EventBridge guides (see the "AWS facts" section of the repository README).
 */

/** Largest payload Lambda accepts for an asynchronous (`Event`) invocation: 1 MB. */
export const ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES = 1_048_576;

/** Largest payload for a synchronous (`RequestResponse`) invocation: 6 MB. */
export const SYNC_INVOKE_PAYLOAD_LIMIT_BYTES = 6_291_456;

/** Longest a Lambda function may run: 900 s. */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/** Lambda memory range in MB. */
export const LAMBDA_MIN_MEMORY_MB = 128;
export const LAMBDA_MAX_MEMORY_MB = 10_240;

/** Async invocation retry attempts allowed on a function error: 0 to 2 (default 2). */
export const ASYNC_MAX_RETRY_ATTEMPTS = 2;

/** Async event age bounds: 60 s to 6 h (default 6 h). */
export const ASYNC_MIN_EVENT_AGE_SECONDS = 60;
export const ASYNC_MAX_EVENT_AGE_SECONDS = 21_600;

/** Lambda Node.js runtimes we deploy; nodejs20.x is deprecated. */
export const SUPPORTED_RUNTIMES = ['nodejs22.x', 'nodejs24.x'] as const;
export type LambdaRuntime = (typeof SUPPORTED_RUNTIMES)[number];
export const DEPRECATED_RUNTIMES = ['nodejs16.x', 'nodejs18.x', 'nodejs20.x'] as const;

const MiB = 1024 * 1024;

/**
 * The /tmp a collector function is assumed to have: Lambda's default (and free)
 * ephemeral storage, 512 MB, which Lambda counts in MiB. A deployment that
 * configures more storage may raise this; one that configures less cannot.
 */
export const EPHEMERAL_STORAGE_BYTES = 512 * MiB;

/** Kept free in /tmp for the runtime, extensions and anything else that writes there. */
export const TMP_RESERVE_BYTES = 64 * MiB;

/**
 * Largest number of bytes one source may hold at once (its `maxBytes`, and
 * all its pages together) when `concurrency` sources are fetched at once by
 * one collector invocation: every fetch at its limit, spooled to disk, must
 * still fit in /tmp.
 */
export function maxSourceBytesFor(concurrency: number): number {
  return Math.floor((EPHEMERAL_STORAGE_BYTES - TMP_RESERVE_BYTES) / Math.max(1, concurrency));
}

/**
 * The fetches one collector invocation runs at once as deployed (the topology's
 * `collectorConcurrency` is this value; it lives here so the limit below needs
 * no import of the topology, which imports this module).
 */
export const DEPLOYED_COLLECTOR_CONCURRENCY = 16;

/**
 * The per-source limit at the deployed concurrency (16 fetches): 28 MiB
 * (29,360,128 bytes), so 16 x 28 MiB = 448 MiB fits 512 MiB with 64 MiB spare.
 * The manifest check refuses a source whose `maxBytes` is above it, and so does
 * the collector (at its configured concurrency), rather than clamping.
 */
export const MAX_SOURCE_BYTES = maxSourceBytesFor(DEPLOYED_COLLECTOR_CONCURRENCY);

/**
 * The collector starts a task only while more than its estimate plus this margin
 * is left of the invocation (`FANOUT_SAFETY_MARGIN_MS`, default). So one request
 * can run at most the collector's timeout minus this margin.
 */
export const DEFAULT_COLLECTOR_SAFETY_MARGIN_MS = 15_000;

/**
 * What a collector payload needs besides one task's source: the manager's margin under
 * the async payload limit (8 KiB by default), the batch envelope (run, batch, hop) and the
 * task's validators and estimate. A source whose JSON is larger than the payload limit
 * minus this cannot be sent to a collector at all; the manifest check says so up front.
 */
export const COLLECTOR_PAYLOAD_RESERVE_BYTES = 16 * 1024;

/**
 * S3 user metadata (`x-amz-meta-*`) in one PUT: at most 2 KB, counted as the UTF-8 bytes of
 * every name and value together (taken as 2,000, the smaller reading of "2 KB").
 */
export const S3_USER_METADATA_MAX_BYTES = 2000;
