import {
  type BatchResult,
  BatchResultSchema,
  batchResultsPrefix,
  check,
  failuresPrefix,
  finalOutcomes,
  type Log,
  parseJson,
  type RunManifest,
  RunManifestSchema,
  runManifestKey,
  type SourceState,
  type StateSnapshot,
  StateSnapshotSchema,
  sourceStateKey,
} from '@fanout/shared';
import { type BucketRef, getText, listKeys, putJson } from './storage.js';

/** Run ids remembered as merged; older ones only matter for debugging. */
export const MERGED_RUNS_KEPT = 50;

export function emptySnapshot(): StateSnapshot {
  return { version: 1, mergedRuns: [], pendingRuns: [], sources: {} };
}

/**
 * The state snapshot, or an empty one when it is missing or unreadable: state
 * only makes runs cheaper (validators, estimates), so a bad snapshot costs a
 * full fetch of every source, never a failed run.
 */
export async function readSnapshot(ref: BucketRef, log: Log): Promise<StateSnapshot> {
  const key = sourceStateKey();
  const text = await getText(ref, key);
  if (text === undefined) return emptySnapshot();
  try {
    const result = check(StateSnapshotSchema, parseJson(text, 'state snapshot'));
    if (result.ok) return result.value;
    log.warn('state snapshot is invalid; starting from empty state', {
      key,
      issues: result.issues.slice(0, 10),
    });
  } catch (error) {
    log.warn('state snapshot is not valid JSON; starting from empty state', {
      key,
      error: (error as Error).message,
    });
  }
  return emptySnapshot();
}

export async function writeSnapshot(ref: BucketRef, snapshot: StateSnapshot): Promise<void> {
  await putJson(ref, sourceStateKey(), snapshot);
}

/** `runs/<id>/results/b00003-h1.json` -> `b00003`. */
export function batchIdOfRecordKey(key: string): string | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1);
  return /^(b\d{5,})-h\d+\.json$/.exec(name)?.[1];
}

/** Batch ids that have a batch result or a failure record: work a re-dispatch would redo. */
export async function settledBatchIds(ref: BucketRef, runId: string): Promise<Set<string>> {
  const [results, failures] = await Promise.all([
    listKeys(ref, batchResultsPrefix(runId)),
    listKeys(ref, failuresPrefix(runId)),
  ]);
  const ids = new Set<string>();
  for (const key of [...results, ...failures]) {
    const id = batchIdOfRecordKey(key);
    if (id) ids.add(id);
  }
  return ids;
}

export async function readRunManifest(
  ref: BucketRef,
  runId: string,
): Promise<{ manifest: RunManifest | undefined; problem?: string }> {
  const text = await getText(ref, runManifestKey(runId));
  if (text === undefined) return { manifest: undefined };
  try {
    const result = check(RunManifestSchema, parseJson(text, 'run manifest'));
    if (result.ok) return { manifest: result.value };
    return { manifest: undefined, problem: result.issues.join('; ') };
  } catch (error) {
    return { manifest: undefined, problem: (error as Error).message };
  }
}

export interface RunRecordsForMerge {
  readonly runId: string;
  readonly manifest: RunManifest | undefined;
  readonly results: readonly BatchResult[];
  /** Batches with a failure record: their sources will get no outcome. */
  readonly failedBatchIds: ReadonlySet<string>;
}

async function readRunRecords(
  ref: BucketRef,
  runId: string,
  log: Log,
): Promise<RunRecordsForMerge> {
  const { manifest } = await readRunManifest(ref, runId);
  const [resultKeys, failureKeys] = await Promise.all([
    listKeys(ref, batchResultsPrefix(runId)),
    listKeys(ref, failuresPrefix(runId)),
  ]);
  const results: BatchResult[] = [];
  for (const key of resultKeys) {
    const text = await getText(ref, key);
    if (text === undefined) continue;
    try {
      const result = check(BatchResultSchema, parseJson(text, 'batch result'));
      if (result.ok) results.push(result.value);
      else log.warn('batch result is invalid; not merged', { runId, key, issues: result.issues });
    } catch (error) {
      log.warn('batch result is not JSON; not merged', {
        runId,
        key,
        error: (error as Error).message,
      });
    }
  }
  const failedBatchIds = new Set<string>();
  for (const key of failureKeys) {
    const id = batchIdOfRecordKey(key);
    if (id) failedBatchIds.add(id);
  }
  return { runId, manifest, results, failedBatchIds };
}

export interface MergeOptions {
  readonly durationsKept: number;
}

function isNewer(finishedAt: string, than: string | undefined): boolean {
  return than === undefined || Date.parse(finishedAt) > Date.parse(than);
}

/**
 * Folds one run's outcomes into the snapshot: validators for conditional fetches
 * and measured durations for estimates. Idempotent (an outcome not newer than the
 * source's last merged one is skipped), so re-reading a run is harmless.
 * Returns whether every planned task of the run has an outcome or a failure record.
 */
export function mergeRunRecords(
  snapshot: StateSnapshot,
  records: RunRecordsForMerge,
  options: MergeOptions,
): { snapshot: StateSnapshot; complete: boolean } {
  const sources: Record<string, SourceState> = { ...snapshot.sources };
  const outcomes = finalOutcomes(records.results);
  for (const outcome of outcomes.values()) {
    const previous = sources[outcome.sourceId];
    if (!isNewer(outcome.finishedAt, previous?.lastFinishedAt)) continue;
    const measured = outcome.status !== 'failed' || outcome.attempts > 0;
    const durationsMs = [...(previous?.durationsMs ?? [])];
    if (measured) durationsMs.push(outcome.durationMs);
    const validators =
      outcome.status === 'failed' ? (previous?.validators ?? {}) : { ...outcome.validators };
    sources[outcome.sourceId] = {
      validators,
      durationsMs: durationsMs.slice(-options.durationsKept),
      lastRunId: records.runId,
      lastStatus: outcome.status,
      lastFinishedAt: outcome.finishedAt,
    };
  }
  const complete =
    records.manifest?.batches.every(
      (batch) =>
        records.failedBatchIds.has(batch.batchId) ||
        batch.sourceIds.every((id) => outcomes.has(id)),
    ) === true;
  return { snapshot: { ...snapshot, sources }, complete };
}

function remember(list: readonly string[], runId: string): string[] {
  return [...list.filter((id) => id !== runId), runId].slice(-MERGED_RUNS_KEPT);
}

/**
 * Merges the results of earlier runs that are not fully merged yet. A run stays
 * pending until all its tasks have records, or until `pendingRunsKept` newer runs
 * push it out (its collectors may still be running; their late results are lost
 * to the state only, never to the run's own records).
 */
export async function mergePendingRuns(
  ref: BucketRef,
  snapshot: StateSnapshot,
  currentRunId: string,
  options: MergeOptions & { pendingRunsKept: number },
  log: Log,
): Promise<StateSnapshot> {
  let merged = snapshot;
  const stillPending: string[] = [];
  let mergedRuns = [...snapshot.mergedRuns];
  for (const runId of snapshot.pendingRuns ?? []) {
    if (runId === currentRunId) continue;
    const records = await readRunRecords(ref, runId, log);
    const step = mergeRunRecords(merged, records, options);
    merged = step.snapshot;
    if (step.complete || records.manifest === undefined) mergedRuns = remember(mergedRuns, runId);
    else stillPending.push(runId);
  }
  const overflow = stillPending.length - (options.pendingRunsKept - 1);
  const kept = overflow > 0 ? stillPending.slice(overflow) : stillPending;
  for (const dropped of stillPending.slice(0, Math.max(0, overflow))) {
    log.warn('run still incomplete; its late results will not refine the state', {
      runId: dropped,
    });
    mergedRuns = remember(mergedRuns, dropped);
  }
  return { ...merged, mergedRuns, pendingRuns: kept };
}

/**
 * The snapshot to store after planning `runId`: only sources still in the
 * manifest (so it cannot grow without bound), and the run queued for merging.
 */
export function snapshotAfterPlanning(
  snapshot: StateSnapshot,
  runId: string,
  manifestIds: ReadonlySet<string>,
  updatedAt: string,
): StateSnapshot {
  const sources: Record<string, SourceState> = {};
  for (const [id, state] of Object.entries(snapshot.sources)) {
    if (manifestIds.has(id)) sources[id] = state;
  }
  const pendingRuns = [...(snapshot.pendingRuns ?? []).filter((id) => id !== runId), runId];
  return { ...snapshot, sources, pendingRuns, updatedAt };
}
