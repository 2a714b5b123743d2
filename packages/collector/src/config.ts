import {
  DEFAULT_COLLECTOR_SAFETY_MARGIN_MS,
  DEFAULT_MAX_HOPS,
  ENV,
  maxSourceBytesFor,
  topology,
} from '@fanout/shared';
import { ConfigError } from './errors.js';

/** Collector-only settings (the shared ones are named in `ENV`). */
export const SETTINGS = {
  fetchMaxAttempts: 'FANOUT_FETCH_MAX_ATTEMPTS',
  retryBaseMs: 'FANOUT_RETRY_BASE_MS',
  maxRetryAfterMs: 'FANOUT_MAX_RETRY_AFTER_MS',
  maxRedirects: 'FANOUT_MAX_REDIRECTS',
  maxBodyBytes: 'FANOUT_MAX_BODY_BYTES',
  memoryBufferBytes: 'FANOUT_MEMORY_BUFFER_BYTES',
  safetyMarginMs: 'FANOUT_SAFETY_MARGIN_MS',
  hardDeadlineMs: 'FANOUT_HARD_DEADLINE_MS',
  maxHops: 'FANOUT_MAX_HOPS',
  packEntryMaxBytes: 'FANOUT_PACK_ENTRY_MAX_BYTES',
  packMemoryBytes: 'FANOUT_PACK_MEMORY_BYTES',
  packMaxBytes: 'FANOUT_PACK_MAX_BYTES',
  secretsTtlMs: 'FANOUT_SECRETS_TTL_MS',
  identityFromBytes: 'FANOUT_IDENTITY_FROM_BYTES',
} as const;

/** How the collector fetches, buffers and budgets time. Core functions take this, not env. */
export interface CollectorSettings {
  /** Fetches run at once inside one invocation. */
  readonly concurrency: number;
  /** Attempts per request, the first included. */
  readonly fetchMaxAttempts: number;
  /** First backoff step; doubles per attempt, with full jitter. */
  readonly retryBaseMs: number;
  /** Upper bound on any wait between attempts, including one asked for by Retry-After. */
  readonly maxRetryAfterMs: number;
  readonly maxRedirects: number;
  /**
   * Largest body accepted when the source sets no maxBytes. Defaults to the per-source
   * limit at `concurrency` (`maxSourceBytesFor`) and may not exceed it.
   */
  readonly maxBodyBytes: number;
  /** Bodies up to this size are hashed in memory; larger ones are spooled to a temp file. */
  readonly memoryBufferBytes: number;
  /** A task starts only when the remaining time exceeds its estimate plus this margin. */
  readonly safetyMarginMs: number;
  /** In-flight fetches are aborted when the remaining time falls to this. */
  readonly hardDeadlineMs: number;
  /** Continuation hops after which unfinished tasks are recorded as failed. */
  readonly maxHops: number;
  /** Largest continuation payload (Lambda async invoke limit). */
  readonly payloadLimitBytes: number;
  /** Pages whose body is at most this go into the hop's pack; larger ones get their own raw object. */
  readonly packEntryMaxBytes: number;
  /** Compressed pack bytes held in memory; past this the pack is spooled to a temp file. */
  readonly packMemoryBytes: number;
  /** Largest pack (compressed entries); a page that would not fit gets its own raw object. */
  readonly packMaxBytes: number;
  /** How long a secret read from SSM or Secrets Manager is reused by this execution environment. */
  readonly secretsTtlMs: number;
  /**
   * A source whose last body had at least this many bytes is asked for it unencoded
   * (`Accept-Encoding: identity`) from the first request: an encoded body has no strong
   * validator for its bytes (nginx sends a weak ETag), so a cut download could not resume.
   */
  readonly identityFromBytes: number;
}

export interface CollectorConfig {
  readonly bucket: string;
  /** This function's own name, for continuations. */
  readonly collectorFunction: string;
  readonly settings: CollectorSettings;
}

const MB = 1024 * 1024;

export const DEFAULT_SETTINGS: CollectorSettings = {
  concurrency: topology.collectorConcurrency,
  fetchMaxAttempts: 3,
  retryBaseMs: 500,
  maxRetryAfterMs: 20_000,
  maxRedirects: 5,
  maxBodyBytes: maxSourceBytesFor(topology.collectorConcurrency),
  // 256 MB functions: a few concurrent 8 MB buffers stay well inside memory.
  memoryBufferBytes: 8 * MB,
  safetyMarginMs: DEFAULT_COLLECTOR_SAFETY_MARGIN_MS,
  hardDeadlineMs: 10_000,
  maxHops: DEFAULT_MAX_HOPS,
  payloadLimitBytes: topology.payloadLimitBytes,
  // Bounds one pack line (the body, JSON-escaped or base64), and so the memory the parser
  // needs per entry: it reads a pack line by line. Larger bodies stream to their own object.
  packEntryMaxBytes: 1 * MB,
  // Most hops' packs (a few hundred small changed pages, compressed) stay in memory; a
  // bigger one goes to /tmp so memory does not grow with the pack.
  packMemoryBytes: 8 * MB,
  // Half of Lambda's default 512 MB /tmp, which spooled response bodies share.
  packMaxBytes: 256 * MB,
  // A rotated secret is picked up within 5 minutes; a warm collector reads each secret
  // about 12 times an hour, whatever its number of sources and invocations.
  secretsTtlMs: 5 * 60_000,
  // Bodies past the memory buffer are spooled to /tmp, the bytes a cut download resumes from.
  identityFromBytes: 8 * MB,
};

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(name, 'is required but not set');
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) {
    throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  }
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(name, `must be at least ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Reads and validates the environment once; each error names its variable. */
export function loadConfig(env: Env = process.env): CollectorConfig {
  const d = DEFAULT_SETTINGS;
  const concurrency = integer(env, ENV.collectorConcurrency, d.concurrency, 1);
  const perSource = maxSourceBytesFor(concurrency);
  const settings: CollectorSettings = {
    concurrency,
    fetchMaxAttempts: integer(env, SETTINGS.fetchMaxAttempts, d.fetchMaxAttempts, 1),
    retryBaseMs: integer(env, SETTINGS.retryBaseMs, d.retryBaseMs, 0),
    maxRetryAfterMs: integer(env, SETTINGS.maxRetryAfterMs, d.maxRetryAfterMs, 0),
    maxRedirects: integer(env, SETTINGS.maxRedirects, d.maxRedirects, 0),
    maxBodyBytes: integer(env, SETTINGS.maxBodyBytes, perSource, 1),
    memoryBufferBytes: integer(env, SETTINGS.memoryBufferBytes, d.memoryBufferBytes, 0),
    safetyMarginMs: integer(env, SETTINGS.safetyMarginMs, d.safetyMarginMs, 0),
    hardDeadlineMs: integer(env, SETTINGS.hardDeadlineMs, d.hardDeadlineMs, 0),
    maxHops: integer(env, SETTINGS.maxHops, d.maxHops, 0),
    payloadLimitBytes: integer(env, ENV.payloadLimitBytes, d.payloadLimitBytes, 1024),
    packEntryMaxBytes: integer(env, SETTINGS.packEntryMaxBytes, d.packEntryMaxBytes, 1),
    packMemoryBytes: integer(env, SETTINGS.packMemoryBytes, d.packMemoryBytes, 0),
    packMaxBytes: integer(env, SETTINGS.packMaxBytes, d.packMaxBytes, 1024),
    secretsTtlMs: integer(env, SETTINGS.secretsTtlMs, d.secretsTtlMs, 0),
    identityFromBytes: integer(env, SETTINGS.identityFromBytes, d.identityFromBytes, 0),
  };
  if (settings.hardDeadlineMs > settings.safetyMarginMs) {
    throw new ConfigError(
      SETTINGS.hardDeadlineMs,
      `must not exceed ${SETTINGS.safetyMarginMs} (${settings.safetyMarginMs}), got ${settings.hardDeadlineMs}`,
    );
  }
  if (settings.maxBodyBytes > perSource) {
    throw new ConfigError(
      SETTINGS.maxBodyBytes,
      `must not exceed the per-source limit of ${perSource} bytes at ${ENV.collectorConcurrency} ${concurrency} (/tmp shared by the concurrent fetches), got ${settings.maxBodyBytes}`,
    );
  }
  return {
    bucket: required(env, ENV.bucket),
    collectorFunction: required(env, ENV.collectorFunction),
    settings,
  };
}
