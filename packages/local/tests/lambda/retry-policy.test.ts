import { describe, expect, it } from 'vitest';
import { afterFailure, emulatedAgeMs, parseFunctionReference } from '../../src/lambda/index.js';

describe('afterFailure', () => {
  const base = {
    maxRetryAttempts: 2,
    maxEventAgeSeconds: 21_600,
    ageMs: 0,
    retryDelayScale: 0.001,
  };

  it('waits about 1 minute, then about 2 minutes, scaled for the local run', () => {
    expect(afterFailure({ ...base, attempts: 1 })).toEqual({
      action: 'retry',
      delayMs: 60_000,
      scaledDelayMs: 60,
    });
    expect(afterFailure({ ...base, attempts: 2, ageMs: 60_000 })).toEqual({
      action: 'retry',
      delayMs: 120_000,
      scaledDelayMs: 120,
    });
  });

  it('gives up after 1 + maxRetryAttempts attempts', () => {
    expect(afterFailure({ ...base, attempts: 3 })).toEqual({
      action: 'dead-letter',
      reason: 'retries-exhausted',
    });
    expect(afterFailure({ ...base, maxRetryAttempts: 0, attempts: 1 })).toEqual({
      action: 'dead-letter',
      reason: 'retries-exhausted',
    });
  });

  it('drops an event whose next retry would come after its maximum age', () => {
    expect(afterFailure({ ...base, maxEventAgeSeconds: 60, attempts: 1, ageMs: 1 })).toEqual({
      action: 'dead-letter',
      reason: 'event-too-old',
    });
  });
});

describe('emulatedAgeMs', () => {
  it('counts skipped retry waits at their AWS length', () => {
    expect(emulatedAgeMs({ firstReceivedAt: 1_000, now: 1_500, skippedWaitMs: 59_940 })).toBe(
      60_440,
    );
  });
});

describe('parseFunctionReference', () => {
  it('reads names, partial and full ARNs with or without a qualifier', () => {
    expect(parseFunctionReference('fanout-parser')).toEqual({ name: 'fanout-parser' });
    expect(parseFunctionReference('fanout-parser:$LATEST')).toEqual({
      name: 'fanout-parser',
      qualifier: '$LATEST',
    });
    expect(parseFunctionReference('123456789012:function:fanout-parser')).toEqual({
      name: 'fanout-parser',
    });
    expect(
      parseFunctionReference('arn:aws:lambda:eu-west-1:123456789012:function:fanout-parser:live'),
    ).toEqual({ name: 'fanout-parser', qualifier: 'live' });
  });

  it('rejects what is not a function reference, naming the value', () => {
    expect(() => parseFunctionReference('../etc/passwd')).toThrow("Value '../etc/passwd'");
  });
});
