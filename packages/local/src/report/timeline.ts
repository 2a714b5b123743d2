import { type BatchResult, parsePackKey, type RunRecords, type TaskOutcome } from '@fanout/shared';

/**
 * A run's timeline from its records alone (times are epoch ms):
 *   - the manager: from the run manifest's `createdAt` (the plan is written before any
 *     collector is invoked) to the first collector's first task;
 *   - each collector hop (a batch's invocation, or a continuation): from its earliest task
 *     start (`finishedAt - durationMs` of its outcomes) to its record's `writtenAt`;
 *   - each parsed raw object: from when it was stored (its hop's `writtenAt`, or a single
 *     object's task `finishedAt`) to its parse outcome's `parsedAt`. That span holds the
 *     S3 notification and any queueing as well as the parse itself.
 */
export interface HopBar {
  readonly batchId: string;
  readonly hop: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly tasks: number;
  /** Tasks handed to the next hop. */
  readonly continued: number;
  /** Whether the hop stored a pack (else its outcomes are in `runs/<run>/results/`). */
  readonly packed: boolean;
  /** Tasks that needed more than one attempt. */
  readonly retried: readonly TaskMark[];
  readonly failed: readonly TaskMark[];
}

export interface TaskMark {
  readonly sourceId: string;
  readonly atMs: number;
  readonly attempts: number;
  readonly reason?: string;
}

export interface ParseBar {
  readonly rawKey: string;
  /** The hop that stored it, when it is a pack. */
  readonly batchId?: string;
  readonly hop?: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly pages: number;
  readonly parsed: number;
  readonly quarantined: number;
}

export interface RunTimeline {
  /** Where the drawing starts: the run manifest's createdAt, else the first event. */
  readonly originMs: number;
  readonly endMs: number;
  readonly manager?: { readonly startMs: number; readonly endMs: number };
  readonly hops: readonly HopBar[];
  readonly parses: readonly ParseBar[];
  /** Batch failure records (not dispatched, invalid payload, failed continuation). */
  readonly batchFailures: readonly {
    readonly batchId?: string;
    readonly atMs: number;
    readonly reason: string;
  }[];
}

function taskStart(outcome: TaskOutcome): number {
  return Date.parse(outcome.finishedAt) - outcome.durationMs;
}

/** When a hop's first task began; a hop with no outcomes began when it wrote its record. */
export function hopStartMs(result: BatchResult): number {
  const written = Date.parse(result.writtenAt);
  return result.outcomes.reduce((min, outcome) => Math.min(min, taskStart(outcome)), written);
}

function hopId(batchId: string, hop: number): string {
  return `${batchId}-h${hop}`;
}

function byBatchAndHop(a: { batchId: string; hop: number }, b: { batchId: string; hop: number }) {
  return a.batchId === b.batchId ? a.hop - b.hop : a.batchId < b.batchId ? -1 : 1;
}

export function runTimeline(records: RunRecords): RunTimeline {
  const hops: HopBar[] = [...records.results].sort(byBatchAndHop).map((result) => {
    const retried: TaskMark[] = [];
    const failed: TaskMark[] = [];
    let packed = false;
    for (const outcome of result.outcomes) {
      const atMs = Date.parse(outcome.finishedAt);
      if (outcome.status === 'failed') {
        failed.push({
          sourceId: outcome.sourceId,
          atMs,
          attempts: outcome.attempts,
          reason: outcome.reason,
        });
      } else if (outcome.attempts > 1) {
        retried.push({ sourceId: outcome.sourceId, atMs, attempts: outcome.attempts });
      }
      if (outcome.status === 'ok') {
        packed ||= outcome.rawKeys.some((key) => {
          const pack = parsePackKey(key);
          return pack?.batchId === result.batchId && pack.hop === result.hop;
        });
      }
    }
    return {
      batchId: result.batchId,
      hop: result.hop,
      startMs: hopStartMs(result),
      endMs: Date.parse(result.writtenAt),
      tasks: result.outcomes.length,
      continued: result.continued.length,
      packed,
      retried,
      failed,
    };
  });

  const hopEnd = new Map(hops.map((hop) => [hopId(hop.batchId, hop.hop), hop.endMs]));
  /** When each single (unpacked) raw object was stored: its task's finish. */
  const singleStored = new Map<string, number>();
  for (const result of records.results) {
    for (const outcome of result.outcomes) {
      if (outcome.status !== 'ok') continue;
      for (const key of outcome.rawKeys) {
        if (!parsePackKey(key)) singleStored.set(key, Date.parse(outcome.finishedAt));
      }
    }
  }
  const parses: ParseBar[] = [];
  for (const [rawKey, raw] of records.rawOutcomes) {
    if (raw.status !== 'parsed') continue;
    const pack = parsePackKey(rawKey);
    const stored = pack ? hopEnd.get(hopId(pack.batchId, pack.hop)) : singleStored.get(rawKey);
    const endMs = Date.parse(raw.outcome.parsedAt);
    parses.push({
      rawKey,
      ...(pack ? { batchId: pack.batchId, hop: pack.hop } : {}),
      startMs: Math.min(stored ?? endMs, endMs),
      endMs,
      pages: raw.outcome.pages,
      parsed: raw.outcome.parsed,
      quarantined: raw.outcome.quarantined,
    });
  }
  parses.sort((a, b) => a.startMs - b.startMs || (a.rawKey < b.rawKey ? -1 : 1));

  const batchFailures = records.failures.map((failure) => ({
    ...(failure.batchId ? { batchId: failure.batchId } : {}),
    atMs: Date.parse(failure.recordedAt),
    reason: failure.reason,
  }));

  const created = records.manifest ? Date.parse(records.manifest.createdAt) : undefined;
  const firstHop = hops.reduce((min, hop) => Math.min(min, hop.startMs), Number.POSITIVE_INFINITY);
  const manager =
    created === undefined
      ? undefined
      : {
          startMs: created,
          endMs: Number.isFinite(firstHop) ? Math.max(created, firstHop) : created,
        };
  const times = [
    ...(manager ? [manager.startMs, manager.endMs] : []),
    ...hops.flatMap((hop) => [hop.startMs, hop.endMs]),
    ...parses.flatMap((parse) => [parse.startMs, parse.endMs]),
    ...batchFailures.map((failure) => failure.atMs),
  ];
  const originMs = times.reduce((min, at) => Math.min(min, at), times[0] ?? 0);
  const endMs = times.reduce((max, at) => Math.max(max, at), originMs);
  return {
    originMs,
    endMs,
    ...(manager ? { manager } : {}),
    hops,
    parses,
    batchFailures,
  };
}
