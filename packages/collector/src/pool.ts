/**
 * Runs `worker` over `items` with at most `concurrency` in flight, in item
 * order. Workers handle their own errors; one that throws stops nothing else
 * and the first such error is rethrown once all have settled.
 */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let firstError: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      const item = items[index] as T;
      try {
        await worker(item, index);
      } catch (error) {
        firstError ??= { error };
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane);
  await Promise.all(lanes);
  if (firstError) throw firstError.error;
}
