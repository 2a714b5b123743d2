import {
  ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES,
  ENV,
  type OriginLimit,
  parseScheduleExpression,
  type Schedule,
  ScheduleExpressionError,
  topology,
} from '@fanout/shared';
import { ConfigError } from './errors.js';

export type InvocationType = 'Event' | 'RequestResponse';

/** The manager's settings; see the table in README.md. */
export interface ManagerConfig {
  readonly bucket: string;
  readonly manifestKey: string;
  readonly collectorFunction: string;
  /** This function's own name, for the two-level fan-out. */
  readonly managerFunction: string | undefined;
  readonly payloadLimitBytes: number;
  /** Kept free below the payload limit, so a payload never lands on the edge. */
  readonly payloadMarginBytes: number;
  readonly collectorTimeoutMs: number;
  /** Fetches one collector invocation runs at once. */
  readonly collectorConcurrency: number;
  /** Collector invocations that may run at once (its reserved concurrency). */
  readonly collectorMaxParallel: number;
  /** Estimated duration one batch may take. */
  readonly batchBudgetMs: number;
  readonly invocationType: InvocationType;
  readonly dispatchConcurrency: number;
  readonly dispatchMaxAttempts: number;
  readonly dispatchBaseDelayMs: number;
  readonly dispatchMaxDelayMs: number;
  /** Above this many batches the manager hands slices of the run to copies of itself. */
  readonly maxBatchesPerManager: number;
  readonly defaultEstimateMs: number;
  readonly minTasksPerBatch: number;
  /** Measured durations kept per source for the median estimate. */
  readonly durationsKept: number;
  /** Runs whose results are awaited before they are given up on (state merge). */
  readonly pendingRunsKept: number;
  /** The stack's schedule: the previous scheduled run's id is its previous fire time. */
  readonly schedule: Schedule;
  /** Fire times walked back (one GET each) to find the previous run manifest. */
  readonly previousRunLookback: number;
  /** A pack header line longer than this is a corrupt pack (it holds one outcome per task). */
  readonly packHeaderMaxBytes: number;
  /**
   * A run older than this whose batch hop has no record is past any collector (the
   * event expired, or its invocation timed out): its tasks are dispatched again.
   */
  readonly redispatchAfterMs: number;
  /** Detail pages (`follow`) a run follows at most, over all its sources. */
  readonly followMaxPerRun: number;
  /** The polite limit of an origin the manifest's `origins` does not list; none when unset. */
  readonly originDefault: OriginLimit | undefined;
}

export const SETTINGS = {
  payloadMarginBytes: 'FANOUT_PAYLOAD_MARGIN_BYTES',
  batchBudgetMs: 'FANOUT_BATCH_BUDGET_MS',
  invocationType: 'FANOUT_INVOCATION_TYPE',
  dispatchConcurrency: 'FANOUT_DISPATCH_CONCURRENCY',
  dispatchMaxAttempts: 'FANOUT_DISPATCH_MAX_ATTEMPTS',
  dispatchBaseDelayMs: 'FANOUT_DISPATCH_BASE_DELAY_MS',
  dispatchMaxDelayMs: 'FANOUT_DISPATCH_MAX_DELAY_MS',
  maxBatchesPerManager: 'FANOUT_MAX_BATCHES_PER_MANAGER',
  defaultEstimateMs: 'FANOUT_DEFAULT_ESTIMATE_MS',
  minTasksPerBatch: 'FANOUT_MIN_TASKS_PER_BATCH',
  durationsKept: 'FANOUT_STATE_DURATIONS_KEPT',
  pendingRunsKept: 'FANOUT_STATE_PENDING_RUNS_MAX',
  previousRunLookback: 'FANOUT_PREVIOUS_RUN_LOOKBACK',
  packHeaderMaxBytes: 'FANOUT_PACK_HEADER_MAX_BYTES',
  redispatchAfterSeconds: 'FANOUT_REDISPATCH_AFTER_SECONDS',
  followMaxPerRun: 'FANOUT_FOLLOW_MAX_PER_RUN',
  originConcurrency: 'FANOUT_ORIGIN_CONCURRENCY',
  originPerMinute: 'FANOUT_ORIGIN_PER_MINUTE',
} as const;

export const DEFAULTS = {
  manifestKey: topology.manifestKey,
  payloadLimitBytes: ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES,
  payloadMarginBytes: 8_192,
  collectorTimeoutMs: topology.functions.collector.timeoutSeconds * 1000,
  collectorConcurrency: topology.collectorConcurrency,
  collectorMaxParallel: topology.functions.collector.reservedConcurrency,
  invocationType: 'Event' as InvocationType,
  // Async Invoke answers in milliseconds and Lambda allows far more requests per
  // second than this; 32 in flight keeps dispatch from waiting on round trips.
  dispatchConcurrency: 32,
  dispatchMaxAttempts: 6,
  dispatchBaseDelayMs: 200,
  dispatchMaxDelayMs: 10_000,
  maxBatchesPerManager: 100,
  defaultEstimateMs: 2_000,
  // Each batch costs two invocations (collector, parser) and two PUTs (its pack, its
  // parsed object): S3 requests are most of the bill. A batch of 200 I/O-bound tasks
  // still finishes in seconds at the collector's concurrency, so small runs stay in
  // one batch and larger ones are spread no thinner than this (`pnpm bench --only cost`).
  minTasksPerBatch: 200,
  durationsKept: 5,
  pendingRunsKept: 6,
  schedule: topology.schedule.expression,
  // Each missed cycle costs one GET; a longer outage falls back to state/sources.json or to
  // empty state (every source fetched in full once), never to a failed run.
  previousRunLookback: 24,
  // About 300 bytes per outcome: room for batches far larger than the planner makes.
  packHeaderMaxBytes: 64 * 1_048_576,
  // An async event waits at most its maximum age before a collector starts it; the
  // collector then runs at most its timeout. After both, no one is working on it.
  redispatchAfterSeconds:
    topology.functions.collector.async.maxEventAgeSeconds +
    topology.functions.collector.timeoutSeconds,
  // A run's detail pages, over all sources: bounds what one bad selector can start.
  followMaxPerRun: 10_000,
} as const;

type Env = Readonly<Record<string, string | undefined>>;

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function required(env: Env, name: string): string {
  const value = text(env, name);
  if (value === undefined) throw new ConfigError(name, 'is required but not set');
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max?: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) {
    throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  }
  const value = Number(raw);
  if (value < min || (max !== undefined && value > max)) {
    const range = max === undefined ? `at least ${min}` : `between ${min} and ${max}`;
    throw new ConfigError(name, `must be ${range}, got ${value}`);
  }
  return value;
}

function invocationType(env: Env): InvocationType {
  const raw = text(env, SETTINGS.invocationType);
  if (raw === undefined) return DEFAULTS.invocationType;
  if (raw === 'Event' || raw === 'RequestResponse') return raw;
  throw new ConfigError(
    SETTINGS.invocationType,
    `must be Event or RequestResponse, got ${JSON.stringify(raw)}`,
  );
}

function schedule(env: Env): Schedule {
  const expression = text(env, ENV.schedule) ?? DEFAULTS.schedule;
  try {
    return parseScheduleExpression(expression);
  } catch (error) {
    if (error instanceof ScheduleExpressionError)
      throw new ConfigError(ENV.schedule, error.message);
    throw error;
  }
}

/** Reads and validates the manager's settings. The only reader of the environment. */
export function loadConfig(env: Env = process.env): ManagerConfig {
  const collectorTimeoutMs = integer(
    env,
    ENV.collectorTimeoutMs,
    DEFAULTS.collectorTimeoutMs,
    1_000,
  );
  const payloadLimitBytes = integer(env, ENV.payloadLimitBytes, DEFAULTS.payloadLimitBytes, 1_024);
  const payloadMarginBytes = integer(
    env,
    SETTINGS.payloadMarginBytes,
    Math.min(DEFAULTS.payloadMarginBytes, Math.floor(payloadLimitBytes / 4)),
    0,
    payloadLimitBytes - 512,
  );
  const dispatchBaseDelayMs = integer(
    env,
    SETTINGS.dispatchBaseDelayMs,
    DEFAULTS.dispatchBaseDelayMs,
    0,
  );
  return {
    bucket: required(env, ENV.bucket),
    manifestKey: text(env, ENV.manifestKey) ?? DEFAULTS.manifestKey,
    collectorFunction: required(env, ENV.collectorFunction),
    // Lambda sets AWS_LAMBDA_FUNCTION_NAME; the explicit setting wins.
    managerFunction: text(env, ENV.managerFunction) ?? text(env, 'AWS_LAMBDA_FUNCTION_NAME'),
    payloadLimitBytes,
    payloadMarginBytes,
    collectorTimeoutMs,
    collectorConcurrency: integer(env, ENV.collectorConcurrency, DEFAULTS.collectorConcurrency, 1),
    collectorMaxParallel: integer(env, ENV.collectorMaxParallel, DEFAULTS.collectorMaxParallel, 1),
    batchBudgetMs: integer(
      env,
      SETTINGS.batchBudgetMs,
      Math.floor(collectorTimeoutMs / 2),
      1,
      collectorTimeoutMs,
    ),
    invocationType: invocationType(env),
    dispatchConcurrency: integer(
      env,
      SETTINGS.dispatchConcurrency,
      DEFAULTS.dispatchConcurrency,
      1,
    ),
    dispatchMaxAttempts: integer(
      env,
      SETTINGS.dispatchMaxAttempts,
      DEFAULTS.dispatchMaxAttempts,
      1,
      20,
    ),
    dispatchBaseDelayMs,
    dispatchMaxDelayMs: integer(
      env,
      SETTINGS.dispatchMaxDelayMs,
      Math.max(DEFAULTS.dispatchMaxDelayMs, dispatchBaseDelayMs),
      dispatchBaseDelayMs,
    ),
    maxBatchesPerManager: integer(
      env,
      SETTINGS.maxBatchesPerManager,
      DEFAULTS.maxBatchesPerManager,
      1,
    ),
    defaultEstimateMs: integer(env, SETTINGS.defaultEstimateMs, DEFAULTS.defaultEstimateMs, 1),
    minTasksPerBatch: integer(env, SETTINGS.minTasksPerBatch, DEFAULTS.minTasksPerBatch, 1),
    durationsKept: integer(env, SETTINGS.durationsKept, DEFAULTS.durationsKept, 1, 100),
    pendingRunsKept: integer(env, SETTINGS.pendingRunsKept, DEFAULTS.pendingRunsKept, 1, 100),
    schedule: schedule(env),
    previousRunLookback: integer(
      env,
      SETTINGS.previousRunLookback,
      DEFAULTS.previousRunLookback,
      1,
      1_000,
    ),
    packHeaderMaxBytes: integer(
      env,
      SETTINGS.packHeaderMaxBytes,
      DEFAULTS.packHeaderMaxBytes,
      1_024,
    ),
    redispatchAfterMs:
      integer(env, SETTINGS.redispatchAfterSeconds, DEFAULTS.redispatchAfterSeconds, 60) * 1000,
    followMaxPerRun: integer(env, SETTINGS.followMaxPerRun, DEFAULTS.followMaxPerRun, 0),
    originDefault: originDefault(env),
  };
}

/** The stack's polite limit per origin: unset (no limit) unless one of its two variables is. */
function originDefault(env: Env): OriginLimit | undefined {
  const concurrency = text(env, SETTINGS.originConcurrency);
  const perMinute = text(env, SETTINGS.originPerMinute);
  if (concurrency === undefined && perMinute === undefined) return undefined;
  return {
    ...(concurrency !== undefined
      ? { concurrency: integer(env, SETTINGS.originConcurrency, 1, 1, 1000) }
      : {}),
    ...(perMinute !== undefined
      ? { perMinute: integer(env, SETTINGS.originPerMinute, 1, 1, 60_000) }
      : {}),
  };
}
