import {
  batchId,
  type CollectorPayload,
  type CollectorTask,
  carriedToTask,
  payloadSize,
  type Source,
  type SourceState,
  sourceDefinition,
  stateForDefinition,
} from '@fanout/shared';
import { estimateMs } from './estimate.js';

export interface PlanSettings {
  /** Estimated duration one batch may take at the collector's concurrency. */
  readonly batchBudgetMs: number;
  readonly payloadLimitBytes: number;
  readonly payloadMarginBytes: number;
  readonly collectorConcurrency: number;
  readonly collectorMaxParallel: number;
  readonly minTasksPerBatch: number;
  readonly defaultEstimateMs: number;
}

export interface PlanInput {
  readonly runId: string;
  readonly scheduledAt: string;
  readonly sources: readonly Source[];
  /** Per-source state by id (validators, measured durations). */
  readonly state: Readonly<Record<string, SourceState>>;
  readonly settings: PlanSettings;
}

export interface BatchPlan {
  readonly batchId: string;
  /** Longest first, so the collector starts the slow ones early. */
  readonly tasks: CollectorTask[];
  readonly estimateMs: number;
  readonly payloadBytes: number;
}

/** A source that cannot be sent at all: its task alone is over the payload limit. */
export interface RejectedSource {
  readonly sourceId: string;
  readonly reason: string;
}

export interface Plan {
  readonly batches: BatchPlan[];
  readonly rejected: RejectedSource[];
}

/** Widest batch id the planner accounts for when it sizes the payload envelope. */
const WIDEST_BATCH_ID = batchId(99_999_999);

export function buildPayload(
  runId: string,
  scheduledAt: string,
  id: string,
  tasks: CollectorTask[],
): CollectorPayload {
  return { version: 1, runId, scheduledAt, batchId: id, hop: 0, tasks };
}

/** A batch's estimated duration: its work spread over the slots, never less than its longest task. */
export function batchEstimateMs(
  taskEstimates: readonly number[],
  collectorConcurrency: number,
): number {
  let sum = 0;
  let longest = 0;
  for (const estimate of taskEstimates) {
    sum += estimate;
    if (estimate > longest) longest = estimate;
  }
  return Math.max(Math.ceil(sum / collectorConcurrency), longest);
}

/**
 * A source's task: what its state carries (validators, the last body's size), unless the
 * source was edited since (then it is fetched in full), and its estimated duration.
 */
export function taskFor(
  source: Source,
  state: SourceState | undefined,
  defaultEstimateMs: number,
): CollectorTask {
  const fitted = stateForDefinition(state, sourceDefinition(source));
  return {
    source,
    ...carriedToTask(fitted),
    estimateMs: estimateMs(source, fitted, defaultEstimateMs),
  };
}

interface Bin {
  readonly index: number;
  readonly tasks: CollectorTask[];
  sumMs: number;
  /** Bytes of the task array elements and their separating commas. */
  taskBytes: number;
  fullness: number;
}

/** A min-heap of bins by fullness, ties by creation order, so planning is deterministic. */
class BinHeap {
  private readonly items: Bin[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Bin | undefined {
    return this.items[0];
  }

  push(bin: Bin): void {
    this.items.push(bin);
    this.up(this.items.length - 1);
  }

  /** Re-sorts the top bin after its fullness grew. */
  topChanged(): void {
    this.down(0);
  }

  all(): readonly Bin[] {
    return this.items;
  }

  private less(a: Bin, b: Bin): boolean {
    return a.fullness < b.fullness || (a.fullness === b.fullness && a.index < b.index);
  }

  private swap(i: number, j: number): void {
    const a = this.items[i];
    const b = this.items[j];
    if (a === undefined || b === undefined) return;
    this.items[i] = b;
    this.items[j] = a;
  }

  private up(start: number): void {
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const child = this.items[i];
      const above = this.items[parent];
      if (child === undefined || above === undefined || !this.less(child, above)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(start: number): void {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      const current = (): Bin | undefined => this.items[smallest];
      const l = this.items[left];
      if (l !== undefined) {
        const s = current();
        if (s !== undefined && this.less(l, s)) smallest = left;
      }
      const r = this.items[right];
      if (r !== undefined) {
        const s = current();
        if (s !== undefined && this.less(r, s)) smallest = right;
      }
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}

/**
 * Packs sources into collector batches.
 *
 * - Time: a batch's estimate (see batchEstimateMs) stays within the budget. A
 *   source estimated over the budget on its own gets a batch of its own; the
 *   collector's continuation carries it past its invocation's timeout.
 * - Bytes: each serialized CollectorPayload stays under the limit minus the margin.
 * - Spread: at least min(maxParallel, ceil(n / minTasksPerBatch)) batches, so a run
 *   finishes in the time of its slowest batch. I/O-bound work costs the same
 *   GB-seconds whether one invocation or ten wait on it, and requests are cheap.
 *
 * Tasks go longest first into the least full batch (LPT scheduling), which keeps
 * batch durations even. The result depends only on the inputs: same sources,
 * state and settings give the same batches and batch ids.
 */
export function planBatches(input: PlanInput): Plan {
  const { settings } = input;
  const capacityBytes = settings.payloadLimitBytes - settings.payloadMarginBytes;
  const envelopeBytes = payloadSize(
    buildPayload(input.runId, input.scheduledAt, WIDEST_BATCH_ID, []),
  );
  const timeCapacity = settings.batchBudgetMs * settings.collectorConcurrency;

  const rejected: RejectedSource[] = [];
  const candidates: { task: CollectorTask; bytes: number }[] = [];
  for (const source of input.sources) {
    const task = taskFor(source, input.state[source.id], settings.defaultEstimateMs);
    const bytes = payloadSize(task);
    if (envelopeBytes + bytes > capacityBytes) {
      rejected.push({
        sourceId: source.id,
        reason: `its collector task serializes to ${bytes} bytes, over the payload limit of ${capacityBytes} bytes (limit minus margin) with the envelope; shorten its headers or options`,
      });
      continue;
    }
    candidates.push({ task, bytes });
  }
  candidates.sort(
    (a, b) =>
      b.task.estimateMs - a.task.estimateMs ||
      (a.task.source.id < b.task.source.id ? -1 : a.task.source.id > b.task.source.id ? 1 : 0),
  );

  const own: Bin[] = [];
  const normal = candidates.filter((candidate) => {
    if (candidate.task.estimateMs <= settings.batchBudgetMs) return true;
    own.push({
      index: own.length,
      tasks: [candidate.task],
      sumMs: candidate.task.estimateMs,
      taskBytes: candidate.bytes,
      fullness: 1,
    });
    return false;
  });

  const heap = new BinHeap();
  let created = 0;
  const newBin = (): Bin => {
    const bin: Bin = {
      index: own.length + created,
      tasks: [],
      sumMs: 0,
      taskBytes: 0,
      fullness: 0,
    };
    created += 1;
    heap.push(bin);
    return bin;
  };
  const spreadTarget = Math.min(
    settings.collectorMaxParallel,
    Math.ceil(normal.length / settings.minTasksPerBatch),
  );
  for (let i = 0; i < Math.max(0, spreadTarget - own.length); i += 1) newBin();
  if (normal.length > 0 && heap.size === 0) newBin();

  for (const { task, bytes } of normal) {
    const top = heap.peek();
    const fits =
      top !== undefined &&
      top.sumMs + task.estimateMs <= timeCapacity &&
      envelopeBytes + top.taskBytes + (top.tasks.length === 0 ? bytes : bytes + 1) <= capacityBytes;
    // A new bin is empty, so it becomes the heap top: the least full bin always is.
    const bin = fits ? top : newBin();
    bin.taskBytes += bin.tasks.length === 0 ? bytes : bytes + 1;
    bin.tasks.push(task);
    bin.sumMs += task.estimateMs;
    bin.fullness = Math.max(
      bin.sumMs / timeCapacity,
      (envelopeBytes + bin.taskBytes) / capacityBytes,
    );
    heap.topChanged();
  }

  const bins = [...own, ...heap.all()]
    .filter((bin) => bin.tasks.length > 0)
    .sort((a, b) => a.index - b.index);
  const batches = bins.map((bin, i) => {
    const id = batchId(i);
    const payload = buildPayload(input.runId, input.scheduledAt, id, bin.tasks);
    return {
      batchId: id,
      tasks: bin.tasks,
      estimateMs: batchEstimateMs(
        bin.tasks.map((task) => task.estimateMs),
        settings.collectorConcurrency,
      ),
      payloadBytes: payloadSize(payload),
    };
  });
  return { batches, rejected };
}
