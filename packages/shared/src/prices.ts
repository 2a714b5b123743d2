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
