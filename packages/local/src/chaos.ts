import { UsageError } from './errors.js';

/** Fault injection rates (0..1), for testing what the pipeline does when things break. */
export interface Chaos {
  /** Upstream sources answering 500. */
  upstreamErrors: number;
  /** Upstream sources that never answer (the collector's timeout must cut them). */
  upstreamHangs: number;
  /** S3 requests answered with 503 SlowDown. */
  s3Errors: number;
  /** Async events and S3 notifications delivered twice. */
  duplicates: number;
  /** Collector invocations killed as timed out at a random moment. */
  collectorTimeouts: number;
}

export const NO_CHAOS: Chaos = {
  upstreamErrors: 0,
  upstreamHangs: 0,
  s3Errors: 0,
  duplicates: 0,
  collectorTimeouts: 0,
};

/** What `--chaos` alone turns on. */
export const DEFAULT_CHAOS: Chaos = {
  upstreamErrors: 0.05,
  upstreamHangs: 0.02,
  s3Errors: 0.02,
  duplicates: 0.2,
  collectorTimeouts: 0.1,
};

const FLAG_NAMES: Record<string, keyof Chaos> = {
  'upstream-errors': 'upstreamErrors',
  'upstream-hangs': 'upstreamHangs',
  's3-errors': 's3Errors',
  duplicates: 'duplicates',
  'collector-timeouts': 'collectorTimeouts',
};

/**
 * `--chaos` (defaults) or `--chaos upstream-errors=0.1,duplicates=0.5`: named
 * rates override the defaults, the rest keep them.
 */
export function parseChaos(spec: string | true | undefined): Chaos {
  if (spec === undefined) return NO_CHAOS;
  if (spec === true || spec === '') return DEFAULT_CHAOS;
  const chaos: Chaos = { ...DEFAULT_CHAOS };
  for (const part of spec.split(',')) {
    const [name, value] = part.split('=');
    const key = name ? FLAG_NAMES[name.trim()] : undefined;
    if (!key) {
      throw new UsageError(
        `unknown chaos setting ${JSON.stringify(name)}`,
        `use ${Object.keys(FLAG_NAMES).join(', ')}`,
      );
    }
    const rate = Number(value);
    if (value === undefined || !Number.isFinite(rate) || rate < 0 || rate > 1) {
      throw new UsageError(
        `chaos ${name} must be a rate between 0 and 1, got ${JSON.stringify(value)}`,
      );
    }
    chaos[key] = rate;
  }
  return chaos;
}
