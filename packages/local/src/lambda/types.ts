import type { Log } from '@fanout/shared';

/** One function as the local endpoint runs it (built from the topology by the caller). */
export interface LocalFunctionConfig {
  /** Function name, e.g. 'fanout-collector'. */
  name: string;
  /** Absolute path to the built ESM bundle (dist/index.mjs). */
  bundlePath: string;
  /** Exported handler function; default 'handler' (Lambda handler `index.handler`). */
  handlerExport?: string;
  memoryMb: number;
  timeoutSeconds: number;
  reservedConcurrency: number;
  maxRetryAttempts: number;
  maxEventAgeSeconds: number;
  /**
   * A function to send Lambda's failure record to when an async event runs out of
   * retries or age (as an on-failure destination), instead of a dead-letter file.
   */
  onFailureFunction?: string;
  /** The function's environment: the caller's base (AWS_REGION, endpoints...) merged with the function's own. */
  env: Record<string, string>;
}

export interface LocalLambdaFaults {
  /** Probability that an async event is delivered twice (AWS delivers at least once). */
  duplicateDeliveryRate?: number;
  /** By function name: probability that an invocation is killed as timed out at a random point. */
  forcedTimeoutRate?: Record<string, number>;
}

export interface LocalLambdaOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Folder for dead letters (dead-letters/<fn>/<id>.json) and function logs (logs/<fn>.log). */
  home: string;
  /** AWS waits ~1 min then ~2 min between async retries; the waits are multiplied by this. Default 0.001. */
  retryDelayScale?: number;
  /** Largest `Event` payload; default 1 MB (ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES). Sync stays 6 MB. */
  asyncPayloadLimitBytes?: number;
  faults?: LocalLambdaFaults;
  /** Source of randomness for the faults; inject for deterministic tests. */
  random?: () => number;
  /** Region used in ARNs; default us-east-1. */
  region?: string;
  /** Receives one line per dead-lettered event and per replaced worker. Default: silent. */
  log?: Log;
}

/** An error as Lambda's Node.js runtime reports it in a RequestResponse body. */
export interface FunctionErrorBody {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

export type DeadLetterReason = 'retries-exhausted' | 'event-too-old';

/** An async event that Lambda gave up on: what the on-failure destination receives. */
export interface DeadLetter {
  id: string;
  functionName: string;
  /** The request id every attempt of this event ran with. */
  requestId: string;
  event: unknown;
  error: { type: string; message: string };
  /** Invocations made (1 + retries), 0 if the event expired before its first run. */
  attempts: number;
  /** ISO time the event was queued. */
  firstReceivedAt: string;
  /** ISO time of the last attempt, or of the decision when there was none. */
  lastAttemptAt: string;
  reason: DeadLetterReason;
}

export interface FunctionStats {
  /** Invocations started (sync and async, retries included). */
  invocations: number;
  /** Invocations that failed, timeouts and out-of-memory included (as CloudWatch's Errors metric). */
  errors: number;
  timeouts: number;
  /** Of the timeouts, those the forced-timeout fault caused. */
  forcedTimeouts: number;
  /** Sync invocations rejected with 429 because every reserved slot was busy. */
  throttles: number;
  /** Async retries scheduled after a failed attempt. */
  retries: number;
  deadLettered: number;
  /** Events given up on and sent to the on-failure destination function. */
  sentToDestination: number;
  /** Extra deliveries made by the duplicate-delivery fault. */
  duplicates: number;
  coldStarts: number;
  /** Async events waiting for a free slot. */
  queued: number;
  /** Async events waiting out a retry delay. */
  retrying: number;
  running: number;
  /** Sum of billed durations (each rounded up to 1 ms, cold-start init included). */
  billedMs: number;
  /** Billed duration of each invocation, in order of completion. */
  billedMsList: number[];
  memoryMb: number;
}

export type LambdaStats = Record<string, FunctionStats>;
