import {
  gbSeconds,
  LAMBDA_ARM64_GB_SECOND,
  LAMBDA_FREE_TIER,
  LAMBDA_REQUEST,
  type MonthlyUsage,
  monthlyBill,
  S3_GET_TIER,
  S3_GET_TIER_REQUEST,
  S3_PUT_TIER,
  S3_PUT_TIER_REQUEST,
  S3_STANDARD_GB_MONTH,
} from '@fanout/shared';

export { LAMBDA_FREE_TIER, S3_GET_TIER, S3_PUT_TIER };

/** The prices of @fanout/shared (prices.ts: figures, dates, sources), USD per unit. */
export const PRICES = {
  /** Lambda arm64 duration, USD per GB-second. */
  lambdaArmGbSecond: LAMBDA_ARM64_GB_SECOND.usd,
  /** Lambda requests, USD per request. */
  lambdaRequest: LAMBDA_REQUEST.usd,
  /** S3 PUT, COPY, POST, LIST requests, USD per request. */
  s3PutTierRequest: S3_PUT_TIER_REQUEST.usd,
  /** S3 GET, HEAD and other requests, USD per request. */
  s3GetTierRequest: S3_GET_TIER_REQUEST.usd,
  /** S3 Standard storage, USD per GB-month. */
  s3StorageGbMonth: S3_STANDARD_GB_MONTH.usd,
} as const;

/** A schedule of rate(10 minutes) over a 30-day month. */
export const RUNS_PER_MONTH = (30 * 24 * 60) / 10;

const GB = 1024 ** 3;

export interface FunctionUsage {
  readonly invocations: number;
  /** Sum of billed durations (1 ms granularity). */
  readonly billedMs: number;
  readonly memoryMb: number;
}

/** What one run used, as measured in the local cloud. */
export interface RunUsage {
  readonly functions: Readonly<Record<string, FunctionUsage>>;
  /** Requests by S3 operation (PUT, GET, LIST, HEAD, COPY, POST, DELETE, OTHER). */
  readonly s3Requests: Readonly<Record<string, number>>;
  /** Bytes the run added to the bucket. */
  readonly storedBytes: number;
}

/** Its storageGb: GB added in a month, held for the month (an upper bound for the first month). */
export interface MonthlyCost extends MonthlyUsage {
  readonly usd: {
    readonly lambdaRequests: number;
    readonly lambdaDuration: number;
    readonly s3PutTier: number;
    readonly s3GetTier: number;
    readonly storage: number;
    readonly total: number;
  };
  /** The same with Lambda's monthly free tier taken off. */
  readonly usdWithFreeTier: {
    readonly lambdaRequests: number;
    readonly lambdaDuration: number;
    readonly total: number;
  };
}

export { gbSeconds };

function sumOf(requests: Readonly<Record<string, number>>, ops: readonly string[]): number {
  return ops.reduce((sum, op) => sum + (requests[op] ?? 0), 0);
}

/** Monthly cost of a workload from one run's usage, `runs` times a month. */
export function monthlyCost(run: RunUsage, runs: number = RUNS_PER_MONTH): MonthlyCost {
  const fns = Object.values(run.functions);
  const lambdaRequests = fns.reduce((sum, fn) => sum + fn.invocations, 0) * runs;
  const lambdaGbSeconds = fns.reduce((sum, fn) => sum + gbSeconds(fn), 0) * runs;
  const s3PutTierRequests = sumOf(run.s3Requests, S3_PUT_TIER) * runs;
  const s3GetTierRequests = sumOf(run.s3Requests, S3_GET_TIER) * runs;
  const storageGb = (run.storedBytes * runs) / GB;
  const bill = monthlyBill({
    lambdaRequests,
    lambdaGbSeconds,
    s3PutTierRequests,
    s3GetTierRequests,
    storageGb,
  });
  return {
    lambdaRequests,
    lambdaGbSeconds,
    s3PutTierRequests,
    s3GetTierRequests,
    storageGb,
    usd: {
      lambdaRequests: bill.lambdaRequests,
      lambdaDuration: bill.lambdaDuration,
      s3PutTier: bill.s3PutTier,
      s3GetTier: bill.s3GetTier,
      storage: bill.storage,
      total: bill.total,
    },
    usdWithFreeTier: bill.withFreeTier,
  };
}

export interface PerSourceModel {
  /** The collector's per-task durations measured in the batched run. */
  readonly taskDurationsMs: readonly number[];
  readonly collectorMemoryMb: number;
  /** Collector invocations (and so batch-result PUTs) the batched run made. */
  readonly batchedCollectorInvocations: number;
}

/**
 * The same run with one source per collector invocation: each invocation is
 * billed for its one task's duration, and writes its own batch result, so PUTs
 * grow by one per extra invocation. Everything else is as measured.
 */
export function perSourceUsage(
  run: RunUsage,
  collectorName: string,
  model: PerSourceModel,
): RunUsage {
  const invocations = model.taskDurationsMs.length;
  const billedMs = model.taskDurationsMs.reduce((sum, ms) => sum + Math.max(1, Math.ceil(ms)), 0);
  const extraPuts = invocations - model.batchedCollectorInvocations;
  return {
    ...run,
    functions: {
      ...run.functions,
      [collectorName]: { invocations, billedMs, memoryMb: model.collectorMemoryMb },
    },
    s3Requests: { ...run.s3Requests, PUT: (run.s3Requests.PUT ?? 0) + extraPuts },
  };
}
