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

/** Where the tasks of a pool may start: an origin with no room makes its tasks wait their turn. */
export interface OriginRoom {
  hasRoomForTask(origin: string): boolean;
  taskStarted(origin: string): void;
  taskEnded(origin: string): void;
}

/**
 * `runPool` that keeps to each origin's room: a lane takes the first item, in order, whose
 * origin has room, and waits for a running item to end when none has. So a limited origin
 * holds no more lanes than its share allows, and the items of other origins go on past it.
 */
export async function runPoolByOrigin<T>(
  items: readonly T[],
  concurrency: number,
  originOf: (item: T) => string,
  room: OriginRoom,
  worker: (item: T, index: number) => Promise<void>,
): Promise<void> {
  const waiting = items.map((item, index) => ({ item, index, origin: originOf(item) }));
  let firstError: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let ended = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const signalEnd = () => {
    const resolve = wake;
    ended = new Promise<void>((next) => {
      wake = next;
    });
    resolve?.();
  };
  let running = 0;
  const lane = async (): Promise<void> => {
    while (waiting.length > 0) {
      let at = waiting.findIndex((entry) => room.hasRoomForTask(entry.origin));
      // With nothing running, nothing will end to make room: the first item goes and waits
      // its turn at the gate (an origin's pause ends on its own).
      if (at < 0 && running === 0) at = 0;
      if (at < 0) {
        await ended;
        continue;
      }
      const [entry] = waiting.splice(at, 1);
      if (entry === undefined) continue;
      room.taskStarted(entry.origin);
      running += 1;
      try {
        await worker(entry.item, entry.index);
      } catch (error) {
        firstError ??= { error };
      } finally {
        running -= 1;
        room.taskEnded(entry.origin);
        signalEnd();
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane);
  await Promise.all(lanes);
  if (firstError) throw firstError.error;
}
