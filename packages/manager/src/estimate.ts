import type { Source, SourceState } from '@fanout/shared';

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
