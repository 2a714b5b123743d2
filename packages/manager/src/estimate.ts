import type { Source, SourceState, Validators } from '@fanout/shared';

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? 0;
  if (sorted.length % 2 === 1) return upper;
  return ((sorted[middle - 1] ?? upper) + upper) / 2;
}

/**
 * How long a fetch of `source` is expected to take: the median of the durations
 * measured in earlier runs (robust to one slow outlier), else the manifest's
 * hint, else the default. Whole milliseconds, at least 1.
 */
export function estimateMs(
  source: Source,
  state: SourceState | undefined,
  defaultEstimateMs: number,
): number {
  const measured = median(state?.durationsMs ?? []);
  const estimate = measured ?? source.expectedDurationMs ?? defaultEstimateMs;
  return Math.max(1, Math.round(estimate));
}

/** The validators to send with a task, or undefined when there are none worth sending. */
export function previousValidators(state: SourceState | undefined): Validators | undefined {
  const validators = state?.validators;
  if (!validators) return undefined;
  const out: Validators = {};
  if (validators.etag !== undefined) out.etag = validators.etag;
  if (validators.lastModified !== undefined) out.lastModified = validators.lastModified;
  if (validators.sha256 !== undefined) out.sha256 = validators.sha256;
  return Object.keys(out).length > 0 ? out : undefined;
}
