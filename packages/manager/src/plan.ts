import {
  batchId,
  type CollectorPayload,
  type CollectorTask,
  carriedToTask,
  type FollowSpread,
  followedOrigins,
  limitOf,
  type OriginAllowances,
  type OriginLimit,
  originOf,
  payloadSize,
  type Source,
  type SourceState,
  sourceDefinition,
  splitLimit,
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
  /** Detail pages the run follows at most, over all its sources (each gets a share). */
  readonly followMaxPerRun?: number;
  /** The limit of an origin the manifest's `origins` does not list (the stack's default). */
  readonly originDefault?: OriginLimit;
}

export interface PlanInput {
  readonly runId: string;
  readonly scheduledAt: string;
  readonly sources: readonly Source[];
  /** Per-source state by id (validators, measured durations). */
  readonly state: Readonly<Record<string, SourceState>>;
  readonly settings: PlanSettings;
  /** The manifest's per-origin limits (`origins`). */
  readonly origins?: Readonly<Record<string, OriginLimit>>;
  /** Sources of the manifest that follow links: the run's detail-page limit is shared by them. */
  readonly followingSources?: number;
}

export interface BatchPlan {
  readonly batchId: string;
  /** Longest first, so the collector starts the slow ones early. */
  readonly tasks: CollectorTask[];
  readonly estimateMs: number;
  readonly payloadBytes: number;
  /** The batch's share of each limited origin its tasks reach. */
  readonly origins?: OriginAllowances;
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
  extras: { origins?: OriginAllowances; followSpread?: FollowSpread } = {},
): CollectorPayload {
  const follows = tasks.some((task) => task.source.follow !== undefined);
  return {
    version: 1,
    runId,
    scheduledAt,
    batchId: id,
    hop: 0,
    tasks,
    ...(extras.origins !== undefined && Object.keys(extras.origins).length > 0
      ? { origins: extras.origins }
      : {}),
    ...(follows && extras.followSpread !== undefined ? { followSpread: extras.followSpread } : {}),
  };
}

/** How a hop spreads the detail pages it finds: as the planner spreads tasks. */
export function followSpreadOf(
  settings: Pick<PlanSettings, 'minTasksPerBatch' | 'collectorMaxParallel'>,
): FollowSpread {
  return {
    tasksPerBatch: settings.minTasksPerBatch,
    maxBatches: Math.min(999, settings.collectorMaxParallel),
  };
}

/** Detail pages the run follows at most when the stack does not say. */
export const DEFAULT_FOLLOW_MAX_PER_RUN = 10_000;

/**
 * Links a source follows this run: its own `max`, within an even share of the run's limit
 * among the manifest's sources that follow links (so the run's total stays within it).
 */
export function followMaxOf(
  source: Source,
  followingSources: number,
  followMaxPerRun: number = DEFAULT_FOLLOW_MAX_PER_RUN,
): number {
  const own = source.follow?.max ?? 0;
  return Math.min(own, Math.floor(followMaxPerRun / Math.max(1, followingSources)));
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
  followMax?: number,
): CollectorTask {
  const fitted = stateForDefinition(state, sourceDefinition(source));
  return {
    source,
    ...carriedToTask(fitted),
    estimateMs: estimateMs(source, fitted, defaultEstimateMs),
    // A source that follows links carries how many, and its detail pages' validators.
    ...(source.follow !== undefined
      ? {
          follow: {
            max: followMax ?? source.follow.max,
            ...(fitted.follow !== undefined ? { previous: fitted.follow } : {}),
          },
        }
      : {}),
  };
}

/** The limited origins a task reaches: its URL's, and those its detail pages may be on. */
function limitedOriginsOf(
  source: Source,
  origins: Readonly<Record<string, OriginLimit>>,
  originDefault: OriginLimit | undefined,
): string[] {
  const reached = new Set<string>(followedOrigins(source));
  const own = originOf(source.url);
  if (own !== undefined) reached.add(own);
  return [...reached].filter((origin) => limitOf(origin, origins, originDefault) !== undefined);
}

interface Bin {
  readonly index: number;
  readonly tasks: CollectorTask[];
  /** Shares of limited origins, set when a group of tasks on them is placed here. */
  origins?: OriginAllowances;
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
 * Tasks that share a limited origin (through their URL or the origins their detail pages may
 * be on), gathered by union: each group goes into as few batches as its tightest limit allows.
 */
function originGroups(
  tasks: readonly { task: CollectorTask; bytes: number }[],
  origins: Readonly<Record<string, OriginLimit>>,
  originDefault: OriginLimit | undefined,
): {
  groups: { origins: string[]; members: { task: CollectorTask; bytes: number }[] }[];
  free: { task: CollectorTask; bytes: number }[];
} {
  // No limit anywhere (the usual case): nothing to group, and no URL to parse.
  if (Object.keys(origins).length === 0 && originDefault === undefined) {
    return { groups: [], free: [...tasks] };
  }
  const parent = new Map<string, string>();
  const find = (origin: string): string => {
    let root = origin;
    while (parent.get(root) !== root) root = parent.get(root) ?? root;
    parent.set(origin, root);
    return root;
  };
  const reached = tasks.map((entry) => limitedOriginsOf(entry.task.source, origins, originDefault));
  for (const list of reached) {
    for (const origin of list) if (!parent.has(origin)) parent.set(origin, origin);
    const [first, ...rest] = list;
    if (first === undefined) continue;
    for (const origin of rest) parent.set(find(origin), find(first));
  }
  const byRoot = new Map<
    string,
    { origins: string[]; members: { task: CollectorTask; bytes: number }[] }
  >();
  const free: { task: CollectorTask; bytes: number }[] = [];
  tasks.forEach((entry, index) => {
    const first = reached[index]?.[0];
    if (first === undefined) {
      free.push(entry);
      return;
    }
    const root = find(first);
    const group = byRoot.get(root) ?? { origins: [], members: [] };
    group.members.push(entry);
    byRoot.set(root, group);
  });
  for (const origin of parent.keys()) byRoot.get(find(origin))?.origins.push(origin);
  return { groups: [...byRoot.values()], free };
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
 * - Politeness: the tasks on a limited origin (the manifest's `origins`, else the stack's
 *   default) go into no more batches than the origin's concurrency, and each of those
 *   batches gets a share of its limit (`origins` of the payload), the shares adding up to
 *   the limit: however the batches overlap, the run keeps it. Tasks that share a limited
 *   origin (their URL's, or one their detail pages may be on) are placed together.
 *
 * Tasks go longest first into the least full batch (LPT scheduling), which keeps
 * batch durations even. The result depends only on the inputs: same sources,
 * state and settings give the same batches and batch ids.
 */
export function planBatches(input: PlanInput): Plan {
  const { settings } = input;
  const manifestOrigins = input.origins ?? {};
  const capacityBytes = settings.payloadLimitBytes - settings.payloadMarginBytes;
  const followSpread = followSpreadOf(settings);
  const envelopeBytes = payloadSize(
    buildPayload(input.runId, input.scheduledAt, WIDEST_BATCH_ID, [], {
      followSpread,
    }),
  );
  const timeCapacity = settings.batchBudgetMs * settings.collectorConcurrency;
  const followingSources =
    input.followingSources ?? input.sources.filter((source) => source.follow).length;

  const rejected: RejectedSource[] = [];
  const candidates: { task: CollectorTask; bytes: number }[] = [];
  for (const source of input.sources) {
    const task = taskFor(
      source,
      input.state[source.id],
      settings.defaultEstimateMs,
      source.follow ? followMaxOf(source, followingSources, settings.followMaxPerRun) : undefined,
    );
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
  const { groups, free } = originGroups(candidates, manifestOrigins, settings.originDefault);

  const own: Bin[] = [];
  const normal = free.filter((candidate) => {
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

  const spread: Bin[] = [];
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
    spread.push(bin);
    return bin;
  };
  const add = (bin: Bin, task: CollectorTask, bytes: number) => {
    bin.taskBytes += bin.tasks.length === 0 ? bytes : bytes + 1;
    bin.tasks.push(task);
    bin.sumMs += task.estimateMs;
    bin.fullness = Math.max(
      bin.sumMs / timeCapacity,
      (envelopeBytes + bin.taskBytes) / capacityBytes,
    );
  };
  const fitsBytes = (bin: Bin, bytes: number) =>
    envelopeBytes + bin.taskBytes + (bin.tasks.length === 0 ? bytes : bytes + 1) <= capacityBytes;
  const grouped = groups.reduce((n, group) => n + group.members.length, 0);
  const spreadTarget = Math.min(
    settings.collectorMaxParallel,
    Math.ceil((normal.length + grouped) / settings.minTasksPerBatch),
  );
  for (let i = 0; i < Math.max(0, spreadTarget - own.length); i += 1) newBin();

  // Limited origins first: each group into its own few batches, least full first.
  for (const group of groups) {
    const limits = group.origins.map((origin) => ({
      origin,
      limit: limitOf(origin, manifestOrigins, settings.originDefault) ?? {},
    }));
    const tightest = Math.min(
      ...limits.map(({ limit }) => limit.concurrency ?? Number.POSITIVE_INFINITY),
    );
    const wanted = Math.max(
      1,
      Math.min(
        tightest,
        settings.collectorMaxParallel,
        Math.ceil(group.members.length / settings.minTasksPerBatch),
      ),
    );
    const free = spread.filter((bin) => bin.origins === undefined);
    const bins = [...free]
      .sort((a, b) => a.fullness - b.fullness || a.index - b.index)
      .slice(0, wanted);
    while (bins.length < wanted) bins.push(newBin());
    for (const { task, bytes } of group.members) {
      const bin = bins
        .filter((candidate) => fitsBytes(candidate, bytes))
        .sort((a, b) => a.fullness - b.fullness || a.index - b.index)[0];
      if (bin === undefined) {
        rejected.push({
          sourceId: task.source.id,
          reason: `the batches its polite origin limit allows (${bins.length}) cannot carry it: their payloads would pass ${capacityBytes} bytes; raise the origin's concurrency or split the source`,
        });
        continue;
      }
      add(bin, task, bytes);
    }
    const shares = limits.map(({ origin, limit }) => ({
      origin,
      shares: splitLimit(limit, bins.length),
    }));
    bins.forEach((bin, index) => {
      const origins: OriginAllowances = {};
      for (const { origin, shares: split } of shares) {
        const share = split[index];
        if (share !== undefined) origins[origin] = share;
      }
      bin.origins = origins;
    });
  }

  const heap = new BinHeap();
  for (const bin of spread) heap.push(bin);
  if (normal.length > 0 && heap.size === 0) heap.push(newBin());

  for (const { task, bytes } of normal) {
    const top = heap.peek();
    const fits =
      top !== undefined && top.sumMs + task.estimateMs <= timeCapacity && fitsBytes(top, bytes);
    // A new bin is empty, so it becomes the heap top: the least full bin always is.
    let bin = top;
    if (!fits || bin === undefined) {
      bin = newBin();
      heap.push(bin);
    }
    add(bin, task, bytes);
    heap.topChanged();
  }

  const bins = [...own, ...spread]
    .filter((bin) => bin.tasks.length > 0)
    .sort((a, b) => a.index - b.index);
  const batches = bins.map((bin, i) => {
    const id = batchId(i);
    const extras = { ...(bin.origins ? { origins: bin.origins } : {}), followSpread };
    const payload = buildPayload(input.runId, input.scheduledAt, id, bin.tasks, extras);
    return {
      batchId: id,
      tasks: bin.tasks,
      estimateMs: batchEstimateMs(
        bin.tasks.map((task) => task.estimateMs),
        settings.collectorConcurrency,
      ),
      payloadBytes: payloadSize(payload),
      ...(bin.origins ? { origins: bin.origins } : {}),
    };
  });
  return { batches, rejected };
}
