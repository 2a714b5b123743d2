import {
  type BatchResult,
  check,
  finalOutcomes,
  type Log,
  parseJson,
  type RunManifest,
  type SourceState,
  type StateSnapshot,
  StateSnapshotSchema,
  sourceStateKey,
} from '@fanout/shared';
import { readRunOutcomes, type StalledHop } from './records.js';
import { type BucketRef, getText } from './storage.js';

/** Run ids remembered as merged; older ones only matter for debugging. */
export const MERGED_RUNS_KEPT = 50;

export function emptySnapshot(): StateSnapshot {
  return { version: 1, mergedRuns: [], pendingRuns: [], sources: {} };
}

/**
 * The state snapshot earlier versions wrote to `state/sources.json`, or an empty one
 * when it is missing or unreadable. Read only when no earlier run manifest carries
 * state (a stack upgraded from such a version). State only makes runs cheaper
 * (validators, estimates), so a bad snapshot costs a full fetch of every source,
 * never a failed run.
 */
export async function readLegacySnapshot(ref: BucketRef, log: Log): Promise<StateSnapshot> {
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

export interface RunRecordsForMerge {
  readonly runId: string;
  readonly manifest: RunManifest | undefined;
  readonly results: readonly BatchResult[];
  /** Planned sources with no record yet (no outcome, no failure record). */
  readonly unaccounted: readonly string[];
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
  const complete = records.manifest !== undefined && records.unaccounted.length === 0;
  return { snapshot: { ...snapshot, sources }, complete };
}

function remember(list: readonly string[], runId: string): string[] {
  return [...list.filter((id) => id !== runId), runId].slice(-MERGED_RUNS_KEPT);
}

/** Reads a run's manifest; the caller may answer from manifests it has already read. */
export type ManifestReader = (runId: string) => Promise<RunManifest | undefined>;

/**
 * Merges the outcomes of earlier runs that are not fully merged yet. A run stays
 * pending until all its tasks have records, or until `pendingRunsKept` newer runs
 * push it out (its collectors may still be running; their late results are lost
 * to the state only, never to the run's own records).
 */
export interface MergePendingOptions extends MergeOptions {
  readonly pendingRunsKept: number;
  readonly packHeaderMaxBytes: number;
  readonly redispatchAfterMs: number;
}

export async function mergePendingRuns(
  ref: BucketRef,
  snapshot: StateSnapshot,
  currentRunId: string,
  readManifest: ManifestReader,
  options: MergePendingOptions & { readonly now: number },
  log: Log,
): Promise<{ snapshot: StateSnapshot; stalled: StalledHop[] }> {
  let merged = snapshot;
  const stillPending: string[] = [];
  const stalled: StalledHop[] = [];
  let mergedRuns = [...snapshot.mergedRuns];
  for (const runId of snapshot.pendingRuns ?? []) {
    if (runId === currentRunId) continue;
    const manifest = await readManifest(runId);
    const outcomes = manifest
      ? await readRunOutcomes(
          ref,
          manifest,
          {
            maxLineBytes: options.packHeaderMaxBytes,
            pastCollectors:
              options.now - Date.parse(manifest.scheduledAt) > options.redispatchAfterMs,
          },
          log,
        )
      : { results: [], unaccounted: [], stalled: [] };
    const step = mergeRunRecords(merged, { runId, manifest, ...outcomes }, options);
    merged = step.snapshot;
    if (step.complete || manifest === undefined) mergedRuns = remember(mergedRuns, runId);
    else {
      stillPending.push(runId);
      stalled.push(...outcomes.stalled);
    }
    log.info('run outcomes merged into the state', {
      runId,
      results: outcomes.results.length,
      unaccounted: outcomes.unaccounted.length,
      complete: step.complete,
    });
  }
  const overflow = stillPending.length - (options.pendingRunsKept - 1);
  const kept = overflow > 0 ? stillPending.slice(overflow) : stillPending;
  for (const dropped of stillPending.slice(0, Math.max(0, overflow))) {
    log.warn('run still incomplete; its late results will not refine the state', {
      runId: dropped,
    });
    mergedRuns = remember(mergedRuns, dropped);
  }
  const keptSet = new Set(kept);
  return {
    snapshot: { ...merged, mergedRuns, pendingRuns: kept },
    stalled: stalled.filter((hop) => keptSet.has(hop.run.runId)),
  };
}

/**
 * The snapshot to store in the manifest of a planned run: only sources still in the
 * source manifest (so it cannot grow without bound), and, for a scheduled run, the
 * run queued for merging by the next one. A manual run is not queued: the next
 * scheduled run never reads its manifest.
 */
export function snapshotAfterPlanning(
  snapshot: StateSnapshot,
  manifestIds: ReadonlySet<string>,
  updatedAt: string,
  queuedRunId?: string,
): StateSnapshot {
  const sources: Record<string, SourceState> = {};
  for (const [id, state] of Object.entries(snapshot.sources)) {
    if (manifestIds.has(id)) sources[id] = state;
  }
  const earlier = (snapshot.pendingRuns ?? []).filter((id) => id !== queuedRunId);
  const pendingRuns = queuedRunId === undefined ? earlier : [...earlier, queuedRunId];
  return { ...snapshot, sources, pendingRuns, updatedAt };
}
