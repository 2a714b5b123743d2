import {
  LAMBDA_ARM64_GB_SECOND,
  LAMBDA_REQUEST,
  parseScheduleExpression,
  S3_GET_TIER_REQUEST,
  S3_PUT_TIER_REQUEST,
} from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import {
  monthlyEstimate,
  requestsByOperation,
  runsPerMonth,
  runUsage,
} from '../../src/report/cost-model.js';
import { priceText } from '../../src/report/cost-text.js';
import { RUN_ID } from '../records/fixtures.js';
import { handMadeRun } from './records.js';

describe('runUsage', () => {
  it('counts one collector invocation per hop and one parser invocation per raw object', () => {
    // Act
    const usage = runUsage(RUN_ID, handMadeRun(), 1000);
    // Assess
    expect(usage.functions.manager.invocations).toBe(1);
    expect(usage.functions.collector.invocations).toBe(3);
    expect(usage.functions.parser.invocations).toBe(2);
  });

  it('bills hops, parses and the manager from the times in the records', () => {
    // Act
    const usage = runUsage(RUN_ID, handMadeRun(), 1000);
    // Assess: hops 3.0 + 2.0 + 1.0 s; parses 1.0 + 0.5 s; manager plan to first task 1.0 s
    expect(usage.functions.collector.billedMs).toBe(6000);
    expect(usage.functions.parser.billedMs).toBe(1500);
    expect(usage.functions.manager.billedMs).toBe(1000);
  });

  it('counts the S3 requests the records stand for', () => {
    // Act
    const usage = runUsage(RUN_ID, handMadeRun(), 1000);
    const byOperation = requestsByOperation(usage.s3);
    // Assess
    // PUT: run manifest 1, packs 2, results record 1, parsed objects 2, quarantined entry copy + report 2
    // GET: source manifest + previous manifest 2, previous hops 2 packed + 2 for the results record, parser 2
    expect(byOperation).toEqual({ PUT: 8, COPY: 0, GET: 8, HEAD: 0, LIST: 0 });
    const line = (what: string) => usage.s3.find((l) => l.what === what)?.count;
    expect(line('packs')).toBe(2);
    expect(line('results records')).toBe(1);
    expect(line('quarantine reports and entry copies')).toBe(2);
  });
});

describe('runsPerMonth', () => {
  it('divides 30 days by a rate and counts the fire times of a cron', () => {
    // Prepare
    const from = new Date('2026-11-01T00:00:00Z');
    // Act
    const rate = runsPerMonth(parseScheduleExpression('rate(10 minutes)'), from);
    const hourly = runsPerMonth(parseScheduleExpression('cron(0 * * * ? *)'), from);
    const weekdays = runsPerMonth(parseScheduleExpression('cron(0 9 ? * MON-FRI *)'), from);
    // Assess
    expect(rate).toBe(4320);
    expect(hourly).toBe(720);
    // 2026-11-02 .. 2026-11-30 (30 days from Nov 1, a Sunday): 21 weekdays
    expect(weekdays).toBe(21);
  });
});

describe('monthlyEstimate', () => {
  it('averages the runs and prices a month of them with prices.ts', () => {
    // Prepare
    const one = runUsage(RUN_ID, handMadeRun(), 1000);
    const other = { ...one, runId: 'other', storedBytes: 3000 };
    // Act
    const estimate = monthlyEstimate([one, other], 100);
    // Assess
    expect(estimate.runsSampled).toEqual([RUN_ID, 'other']);
    expect(estimate.perRun.storedBytes).toBe(2000);
    expect(estimate.month.lambdaRequests).toBe(600);
    expect(estimate.month.s3PutTierRequests).toBe(800);
    expect(estimate.month.s3GetTierRequests).toBe(800);
    // 8.5 s at 256 MB each run
    expect(estimate.month.lambdaGbSeconds).toBeCloseTo(8.5 * 0.25 * 100, 9);
    expect(estimate.usd.s3PutTier).toBeCloseTo(800 * S3_PUT_TIER_REQUEST.usd, 12);
    expect(estimate.usd.total).toBeCloseTo(
      600 * LAMBDA_REQUEST.usd +
        212.5 * LAMBDA_ARM64_GB_SECOND.usd +
        800 * S3_PUT_TIER_REQUEST.usd +
        800 * S3_GET_TIER_REQUEST.usd +
        estimate.usd.storage,
      12,
    );
    // Inside Lambda's free tier only S3 is left.
    expect(estimate.usd.totalWithFreeTier).toBeCloseTo(
      estimate.usd.s3PutTier + estimate.usd.s3GetTier + estimate.usd.storage,
      12,
    );
  });
});

describe('priceText', () => {
  it('prints request prices per million and others as plain decimals', () => {
    // Act
    const lines = [
      LAMBDA_REQUEST,
      S3_PUT_TIER_REQUEST,
      S3_GET_TIER_REQUEST,
      LAMBDA_ARM64_GB_SECOND,
    ].map(priceText);
    // Assess
    expect(lines).toEqual([
      '$0.2 per 1M requests',
      '$5 per 1M requests',
      '$0.4 per 1M requests',
      '$0.0000133334 per GB-second',
    ]);
  });
});
