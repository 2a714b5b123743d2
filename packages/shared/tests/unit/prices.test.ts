import { describe, expect, it } from 'vitest';
import {
  LAMBDA_ARM64_GB_SECOND,
  LAMBDA_REQUEST,
  PRICE_TABLE,
  S3_GET_TIER_REQUEST,
  S3_PUT_TIER_REQUEST,
  S3_STANDARD_GB_MONTH,
} from '../../src/index.js';

describe('prices', () => {
  it('states the published figures per their usual units', () => {
    // Prepare: the list prices as AWS publishes them (per 1M, per 1,000)
    // Act
    const perMillionLambdaRequests = LAMBDA_REQUEST.usd * 1_000_000;
    const perThousandPuts = S3_PUT_TIER_REQUEST.usd * 1_000;
    const perThousandGets = S3_GET_TIER_REQUEST.usd * 1_000;
    // Assess
    expect(perMillionLambdaRequests).toBeCloseTo(0.2, 10);
    expect(perThousandPuts).toBeCloseTo(0.005, 10);
    expect(perThousandGets).toBeCloseTo(0.0004, 10);
    expect(LAMBDA_ARM64_GB_SECOND.usd).toBe(0.0000133334);
    expect(S3_STANDARD_GB_MONTH.usd).toBe(0.023);
  });

  it('dates every figure and names its source', () => {
    // Act
    const prices = Object.values(PRICE_TABLE);
    // Assess
    expect(prices).toHaveLength(5);
    for (const price of prices) {
      expect(price.asOf).toMatch(/^\d{4}-\d{2}$/);
      expect(price.source.length).toBeGreaterThan(0);
      expect(price.usd).toBeGreaterThan(0);
    }
  });
});
