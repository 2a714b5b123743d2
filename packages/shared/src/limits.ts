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
