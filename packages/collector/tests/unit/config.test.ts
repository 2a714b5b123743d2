import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_SETTINGS, loadConfig } from '../../src/index.js';

const REQUIRED = { FANOUT_BUCKET: 'bucket', FANOUT_COLLECTOR_FUNCTION: 'fanout-collector' };

describe('loadConfig', () => {
  it('applies the defaults', () => {
    const config = loadConfig(REQUIRED);
    expect(config).toEqual({
      bucket: 'bucket',
      collectorFunction: 'fanout-collector',
      settings: DEFAULT_SETTINGS,
    });
    expect(config.settings).toMatchObject({
      concurrency: 16,
      fetchMaxAttempts: 3,
      // The per-source limit at 16 concurrent fetches: 28 MiB.
      maxBodyBytes: 28 * 1024 * 1024,
      safetyMarginMs: 15_000,
      maxHops: 5,
      payloadLimitBytes: 1_048_576,
      packEntryMaxBytes: 1_048_576,
      packMemoryBytes: 8 * 1024 * 1024,
      packMaxBytes: 256 * 1024 * 1024,
    });
  });

  it('reads every setting from its variable', () => {
    const config = loadConfig({
      ...REQUIRED,
      FANOUT_COLLECTOR_CONCURRENCY: '4',
      FANOUT_PAYLOAD_LIMIT_BYTES: '262144',
      FANOUT_FETCH_MAX_ATTEMPTS: '5',
      FANOUT_RETRY_BASE_MS: '250',
      FANOUT_MAX_RETRY_AFTER_MS: '60000',
      FANOUT_MAX_REDIRECTS: '2',
      FANOUT_MAX_BODY_BYTES: '1000',
      FANOUT_MEMORY_BUFFER_BYTES: '100',
      FANOUT_SAFETY_MARGIN_MS: '20000',
      FANOUT_HARD_DEADLINE_MS: '8000',
      FANOUT_MAX_HOPS: '2',
      FANOUT_PACK_ENTRY_MAX_BYTES: '4096',
      FANOUT_PACK_MEMORY_BYTES: '0',
      FANOUT_PACK_MAX_BYTES: '65536',
      FANOUT_SECRETS_TTL_MS: '30000',
      FANOUT_IDENTITY_FROM_BYTES: '1048576',
    });
    expect(config.settings).toEqual({
      concurrency: 4,
      payloadLimitBytes: 262_144,
      fetchMaxAttempts: 5,
      retryBaseMs: 250,
      maxRetryAfterMs: 60_000,
      maxRedirects: 2,
      maxBodyBytes: 1_000,
      memoryBufferBytes: 100,
      safetyMarginMs: 20_000,
      hardDeadlineMs: 8_000,
      maxHops: 2,
      packEntryMaxBytes: 4_096,
      packMemoryBytes: 0,
      packMaxBytes: 65_536,
      secretsTtlMs: 30_000,
      identityFromBytes: 1_048_576,
    });
  });

  it('lowers the default body limit with the per-source limit when concurrency rises', () => {
    // Act
    const config = loadConfig({ ...REQUIRED, FANOUT_COLLECTOR_CONCURRENCY: '32' });

    // Assess
    expect(config.settings.maxBodyBytes).toBe(14 * 1024 * 1024);
  });

  it('accepts a body limit equal to the per-source limit', () => {
    // Act
    const config = loadConfig({
      ...REQUIRED,
      FANOUT_COLLECTOR_CONCURRENCY: '32',
      FANOUT_MAX_BODY_BYTES: String(14 * 1024 * 1024),
    });

    // Assess
    expect(config.settings.maxBodyBytes).toBe(14 * 1024 * 1024);
  });

  it.each([
    [
      { ...REQUIRED, FANOUT_MAX_BODY_BYTES: String(28 * 1024 * 1024 + 1) },
      'FANOUT_MAX_BODY_BYTES: must not exceed the per-source limit of 29360128 bytes at FANOUT_COLLECTOR_CONCURRENCY 16 (/tmp shared by the concurrent fetches), got 29360129',
    ],
    [
      { ...REQUIRED, FANOUT_COLLECTOR_CONCURRENCY: '32', FANOUT_MAX_BODY_BYTES: '20000000' },
      'FANOUT_MAX_BODY_BYTES: must not exceed the per-source limit of 14680064 bytes at FANOUT_COLLECTOR_CONCURRENCY 32 (/tmp shared by the concurrent fetches), got 20000000',
    ],
    [{ FANOUT_COLLECTOR_FUNCTION: 'f' }, 'FANOUT_BUCKET: is required but not set'],
    [{ FANOUT_BUCKET: 'b' }, 'FANOUT_COLLECTOR_FUNCTION: is required but not set'],
    [
      { ...REQUIRED, FANOUT_COLLECTOR_CONCURRENCY: 'lots' },
      'FANOUT_COLLECTOR_CONCURRENCY: must be a whole number, got "lots"',
    ],
    [
      { ...REQUIRED, FANOUT_COLLECTOR_CONCURRENCY: '0' },
      'FANOUT_COLLECTOR_CONCURRENCY: must be at least 1, got "0"',
    ],
    [
      { ...REQUIRED, FANOUT_MAX_BODY_BYTES: '-1' },
      'FANOUT_MAX_BODY_BYTES: must be a whole number, got "-1"',
    ],
    [
      { ...REQUIRED, FANOUT_PACK_ENTRY_MAX_BYTES: '0' },
      'FANOUT_PACK_ENTRY_MAX_BYTES: must be at least 1, got "0"',
    ],
    [
      { ...REQUIRED, FANOUT_HARD_DEADLINE_MS: '30000' },
      'FANOUT_HARD_DEADLINE_MS: must not exceed FANOUT_SAFETY_MARGIN_MS (15000), got 30000',
    ],
  ])('rejects %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
