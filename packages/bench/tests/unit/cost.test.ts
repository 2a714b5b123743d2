import { describe, expect, it } from 'vitest';
import {
  gbSeconds,
  LAMBDA_FREE_TIER,
  monthlyCost,
  PRICES,
  perSourceUsage,
  RUNS_PER_MONTH,
  type RunUsage,
} from '../../src/cost.js';

const run: RunUsage = {
  functions: {
    manager: { invocations: 1, billedMs: 200, memoryMb: 256 },
    collector: { invocations: 2, billedMs: 1_000, memoryMb: 256 },
  },
  s3Requests: { PUT: 10, LIST: 2, GET: 5, HEAD: 1, DELETE: 7 },
  storedBytes: 1024 ** 3 / RUNS_PER_MONTH,
};

describe('monthlyCost', () => {
  it('runs every 10 minutes: 4,320 runs in a 30-day month', () => {
    expect(RUNS_PER_MONTH).toBe(4_320);
  });

  it('bills GB-seconds from billed milliseconds and memory', () => {
    expect(gbSeconds({ invocations: 1, billedMs: 4_000, memoryMb: 512 })).toBe(2);
  });

  it('prices each line from the per-run usage times the runs', () => {
    const cost = monthlyCost(run, 1_000);
    expect(cost.lambdaRequests).toBe(3_000);
    expect(cost.lambdaGbSeconds).toBeCloseTo(1.2 * 0.25 * 1_000);
    expect(cost.s3PutTierRequests).toBe(12_000);
    expect(cost.s3GetTierRequests).toBe(6_000);
    expect(cost.usd.s3PutTier).toBeCloseTo(12_000 * PRICES.s3PutTierRequest);
    expect(cost.usd.s3GetTier).toBeCloseTo(6_000 * PRICES.s3GetTierRequest);
    expect(cost.usd.total).toBeCloseTo(
      cost.usd.lambdaRequests +
        cost.usd.lambdaDuration +
        cost.usd.s3PutTier +
        cost.usd.s3GetTier +
        cost.usd.storage,
    );
  });

  it('does not charge for DELETE requests', () => {
    const withoutDeletes = monthlyCost({ ...run, s3Requests: { ...run.s3Requests, DELETE: 0 } });
    expect(monthlyCost(run).usd.total).toBeCloseTo(withoutDeletes.usd.total);
  });

  it('stores one month of writes: 1 GB a month costs the GB-month price', () => {
    expect(monthlyCost(run).storageGb).toBeCloseTo(1);
    expect(monthlyCost(run).usd.storage).toBeCloseTo(PRICES.s3StorageGbMonth);
  });

  it('takes the Lambda free tier off Lambda lines only', () => {
    const cost = monthlyCost(run);
    expect(cost.lambdaRequests).toBeLessThan(LAMBDA_FREE_TIER.requests);
    expect(cost.usdWithFreeTier.lambdaRequests).toBe(0);
    expect(cost.usdWithFreeTier.lambdaDuration).toBe(0);
    expect(cost.usdWithFreeTier.total).toBeCloseTo(
      cost.usd.s3PutTier + cost.usd.s3GetTier + cost.usd.storage,
    );
  });

  it('charges only the requests beyond the free tier', () => {
    const busy: RunUsage = {
      functions: { f: { invocations: 1_000, billedMs: 1, memoryMb: 128 } },
      s3Requests: {},
      storedBytes: 0,
    };
    const cost = monthlyCost(busy, 1_500);
    expect(cost.usdWithFreeTier.lambdaRequests).toBeCloseTo(500_000 * PRICES.lambdaRequest);
  });
});

describe('perSourceUsage', () => {
  it('makes one collector invocation per task, billed its duration rounded up', () => {
    const modeled = perSourceUsage(run, 'collector', {
      taskDurationsMs: [10.2, 0.1, 300],
      collectorMemoryMb: 256,
      batchedCollectorInvocations: 2,
    });
    expect(modeled.functions.collector).toEqual({
      invocations: 3,
      billedMs: 11 + 1 + 300,
      memoryMb: 256,
    });
    expect(modeled.functions.manager).toEqual(run.functions.manager);
  });

  it('adds one batch-result PUT per extra invocation', () => {
    const modeled = perSourceUsage(run, 'collector', {
      taskDurationsMs: Array.from({ length: 5 }, () => 1),
      collectorMemoryMb: 256,
      batchedCollectorInvocations: 2,
    });
    expect(modeled.s3Requests.PUT).toBe(13);
    expect(modeled.s3Requests.GET).toBe(5);
  });
});
