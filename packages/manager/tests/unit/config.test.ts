import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, loadConfig } from '../../src/index.js';

const BASE = { FANOUT_BUCKET: 'bucket', FANOUT_COLLECTOR_FUNCTION: 'fanout-collector' };

describe('loadConfig', () => {
  it('applies the defaults, with the batch budget half the collector timeout', () => {
    const config = loadConfig({ ...BASE, FANOUT_COLLECTOR_TIMEOUT_MS: '120000' });
    expect(config).toMatchObject({
      bucket: 'bucket',
      collectorFunction: 'fanout-collector',
      manifestKey: 'manifest/sources.json',
      collectorTimeoutMs: 120_000,
      batchBudgetMs: 60_000,
      invocationType: 'Event',
      payloadLimitBytes: DEFAULTS.payloadLimitBytes,
      maxBatchesPerManager: DEFAULTS.maxBatchesPerManager,
    });
  });

  it('reads every named setting', () => {
    const config = loadConfig({
      ...BASE,
      FANOUT_MANAGER_FUNCTION: 'fanout-manager',
      FANOUT_INVOCATION_TYPE: 'RequestResponse',
      FANOUT_BATCH_BUDGET_MS: '30000',
      FANOUT_DISPATCH_CONCURRENCY: '3',
      FANOUT_DISPATCH_MAX_ATTEMPTS: '2',
      FANOUT_MAX_BATCHES_PER_MANAGER: '7',
      FANOUT_DEFAULT_ESTIMATE_MS: '900',
      FANOUT_MIN_TASKS_PER_BATCH: '4',
      FANOUT_PAYLOAD_LIMIT_BYTES: '262144',
    });
    expect(config).toMatchObject({
      managerFunction: 'fanout-manager',
      invocationType: 'RequestResponse',
      batchBudgetMs: 30_000,
      dispatchConcurrency: 3,
      dispatchMaxAttempts: 2,
      maxBatchesPerManager: 7,
      defaultEstimateMs: 900,
      minTasksPerBatch: 4,
      payloadLimitBytes: 262_144,
    });
  });

  it.each([
    [{ FANOUT_COLLECTOR_FUNCTION: 'c' }, 'FANOUT_BUCKET: is required but not set'],
    [
      { FANOUT_BUCKET: 'b', FANOUT_COLLECTOR_FUNCTION: ' ' },
      'FANOUT_COLLECTOR_FUNCTION: is required but not set',
    ],
    [
      { ...BASE, FANOUT_DISPATCH_CONCURRENCY: 'ten' },
      'FANOUT_DISPATCH_CONCURRENCY: must be a whole number, got "ten"',
    ],
    [
      { ...BASE, FANOUT_DISPATCH_CONCURRENCY: '0' },
      'FANOUT_DISPATCH_CONCURRENCY: must be at least 1, got 0',
    ],
    [
      { ...BASE, FANOUT_BATCH_BUDGET_MS: '-5' },
      'FANOUT_BATCH_BUDGET_MS: must be a whole number, got "-5"',
    ],
    [
      { ...BASE, FANOUT_COLLECTOR_TIMEOUT_MS: '60000', FANOUT_BATCH_BUDGET_MS: '90000' },
      'FANOUT_BATCH_BUDGET_MS: must be between 1 and 60000, got 90000',
    ],
    [
      { ...BASE, FANOUT_INVOCATION_TYPE: 'DryRun' },
      'FANOUT_INVOCATION_TYPE: must be Event or RequestResponse, got "DryRun"',
    ],
    [
      { ...BASE, FANOUT_PAYLOAD_LIMIT_BYTES: '1.5' },
      'FANOUT_PAYLOAD_LIMIT_BYTES: must be a whole number, got "1.5"',
    ],
    [
      { ...BASE, FANOUT_DISPATCH_MAX_ATTEMPTS: '50' },
      'FANOUT_DISPATCH_MAX_ATTEMPTS: must be between 1 and 20, got 50',
    ],
  ])('rejects %j with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
