/**
 * AWS prices the cost estimates use (`fanout cost`, `pnpm bench`), us-east-1, USD.
 * Each figure carries when it was checked and where it came from, so an estimate can
 * say what it assumed. The Lambda and S3 request prices are copied from
 * /work/shared/reference/aws-facts.md (late 2026), which marks them as third-party
 * copies of the AWS price pages; the storage figure is the public S3 list price.
 */
export interface Price {
  /** USD per `unit`. */
  readonly usd: number;
  readonly unit: string;
  /** When the figure was checked (YYYY-MM). */
  readonly asOf: string;
  readonly source: string;
}

const AWS_FACTS = 'aws-facts.md (third-party copy of the AWS price page)';

/** Lambda arm64 duration: $0.0000133334 per GB-second. */
export const LAMBDA_ARM64_GB_SECOND: Price = {
  usd: 0.0000133334,
  unit: 'GB-second',
  asOf: '2026-11',
  source: AWS_FACTS,
};

/** Lambda requests: $0.20 per 1M. */
export const LAMBDA_REQUEST: Price = {
  usd: 0.2 / 1_000_000,
  unit: 'request',
  asOf: '2026-11',
  source: AWS_FACTS,
};

/** S3 PUT, COPY, POST and LIST requests: $0.005 per 1,000. */
export const S3_PUT_TIER_REQUEST: Price = {
  usd: 0.005 / 1_000,
  unit: 'request',
  asOf: '2026-11',
  source: AWS_FACTS,
};

/** S3 GET, HEAD and other requests: $0.0004 per 1,000. */
export const S3_GET_TIER_REQUEST: Price = {
  usd: 0.0004 / 1_000,
  unit: 'request',
  asOf: '2026-11',
  source: AWS_FACTS,
};

/** S3 Standard storage, first 50 TB: $0.023 per GB-month. Not in aws-facts.md. */
export const S3_STANDARD_GB_MONTH: Price = {
  usd: 0.023,
  unit: 'GB-month',
  asOf: '2026-11',
  source: 'AWS S3 public list price, us-east-1, first 50 TB',
};

/** Lambda's monthly free tier (aws-facts.md). S3's free tier is not modelled. */
export const LAMBDA_FREE_TIER = {
  requests: 1_000_000,
  gbSeconds: 400_000,
  asOf: '2026-11',
  source: AWS_FACTS,
} as const;

/** Request classes as S3 bills them. */
export const S3_PUT_TIER = ['PUT', 'COPY', 'POST', 'LIST'] as const;
export const S3_GET_TIER = ['GET', 'HEAD', 'OTHER'] as const;

/** Every price above, by name, for printing what an estimate assumed. */
export const PRICE_TABLE = {
  lambdaArm64GbSecond: LAMBDA_ARM64_GB_SECOND,
  lambdaRequest: LAMBDA_REQUEST,
  s3PutTierRequest: S3_PUT_TIER_REQUEST,
  s3GetTierRequest: S3_GET_TIER_REQUEST,
  s3StandardGbMonth: S3_STANDARD_GB_MONTH,
} as const;

/** What a month uses, in the units AWS bills. */
export interface MonthlyUsage {
  readonly lambdaRequests: number;
  readonly lambdaGbSeconds: number;
  readonly s3PutTierRequests: number;
  readonly s3GetTierRequests: number;
  /** GB stored for the month. */
  readonly storageGb: number;
}

export interface MonthlyBill {
  readonly lambdaRequests: number;
  readonly lambdaDuration: number;
  readonly s3PutTier: number;
  readonly s3GetTier: number;
  readonly storage: number;
  readonly total: number;
  /** Lambda's lines with its monthly free tier taken off; S3's lines are as above. */
  readonly withFreeTier: {
    readonly lambdaRequests: number;
    readonly lambdaDuration: number;
    readonly total: number;
  };
}

/** GB-seconds of a function's billed time at its memory. */
export function gbSeconds(usage: {
  readonly invocations?: number;
  readonly billedMs: number;
  readonly memoryMb: number;
}): number {
  return (usage.billedMs / 1000) * (usage.memoryMb / 1024);
}

/** The month's bill in USD at the prices above: the one place the cost arithmetic lives. */
export function monthlyBill(usage: MonthlyUsage): MonthlyBill {
  const lambdaRequests = usage.lambdaRequests * LAMBDA_REQUEST.usd;
  const lambdaDuration = usage.lambdaGbSeconds * LAMBDA_ARM64_GB_SECOND.usd;
  const s3PutTier = usage.s3PutTierRequests * S3_PUT_TIER_REQUEST.usd;
  const s3GetTier = usage.s3GetTierRequests * S3_GET_TIER_REQUEST.usd;
  const storage = usage.storageGb * S3_STANDARD_GB_MONTH.usd;
  const s3 = s3PutTier + s3GetTier + storage;
  const free = {
    lambdaRequests:
      Math.max(0, usage.lambdaRequests - LAMBDA_FREE_TIER.requests) * LAMBDA_REQUEST.usd,
    lambdaDuration:
      Math.max(0, usage.lambdaGbSeconds - LAMBDA_FREE_TIER.gbSeconds) * LAMBDA_ARM64_GB_SECOND.usd,
  };
  return {
    lambdaRequests,
    lambdaDuration,
    s3PutTier,
    s3GetTier,
    storage,
    total: lambdaRequests + lambdaDuration + s3,
    withFreeTier: { ...free, total: free.lambdaRequests + free.lambdaDuration + s3 },
  };
}
