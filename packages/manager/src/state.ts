import {
  type BatchResult,
  check,
  finalOutcomes,
  type Log,
  mergeOutcome,
  parseJson,
  type RunManifest,
  type SourceState,
  type StateSnapshot,
  StateSnapshotSchema,
  sourceStateKey,
  stateForDefinition,
} from '@fanout/shared';
import { NO_RECORD_STATE, type RecordStateSources, readCursors } from './record-state.js';
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
  /** The cursor each cursor source's fetch reached, from its parse outcomes (`readCursors`). */
  readonly cursors?: ReadonlyMap<string, string>;
}

export interface MergeOptions {
  readonly durationsKept: number;
  /** Sources that emit changes or have a cursor (from the current source manifest). */
  readonly recordState?: RecordStateSources;
}

/**
 * Folds one run's outcomes into the snapshot (`mergeOutcome` from `@fanout/shared`:
 * validators for conditional fetches, body sizes, measured durations). Idempotent (an
 * outcome not newer than the source's last merged one is skipped), so re-reading a run is
 * harmless; an outcome fetched with a definition the source no longer has is skipped too.
 * Returns whether every planned task of the run has an outcome or a failure record.
 */
export function mergeRunRecords(
  snapshot: StateSnapshot,
  records: RunRecordsForMerge,
  options: MergeOptions,
): { snapshot: StateSnapshot; complete: boolean } {
  const sources: Record<string, SourceState> = { ...snapshot.sources };
  const ranWith = records.manifest?.state?.sources;
  for (const outcome of finalOutcomes(records.results).values()) {
    const definition = ranWith?.[outcome.sourceId]?.definition;
    const cursor = records.cursors?.get(outcome.sourceId);
    const merged = mergeOutcome(sources[outcome.sourceId], outcome, {
      runId: records.runId,
      durationsKept: options.durationsKept,
      ...(definition !== undefined ? { ranWith: definition } : {}),
      records: {
        keepRawKeys: options.recordState?.emitChanges.has(outcome.sourceId) ?? false,
        ...(cursor !== undefined ? { cursor } : {}),
      },
    });
    if (merged) sources[outcome.sourceId] = merged;
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
  options: MergePendingOptions & {
    readonly now: number;
    /** Batches replays added, by run (from the off-schedule log). */
    readonly replayBatches?: ReadonlyMap<string, readonly string[]>;
  },
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
            extraBatchIds: options.replayBatches?.get(runId) ?? [],
          },
          log,
        )
      : { results: [], unaccounted: [], stalled: [] };
    const cursorSources = (options.recordState ?? NO_RECORD_STATE).cursors;
    const cursors =
      cursorSources.size > 0
        ? await readCursors(ref, outcomes.results, cursorSources, log)
        : new Map<string, string>();
    const step = mergeRunRecords(merged, { runId, manifest, ...outcomes, cursors }, options);
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
 * source manifest (so it cannot grow without bound), each fitted to its current
 * definition (an edited source loses its validators here, so this run and the next fetch
 * it in full), and the run queued for merging by the next one. Manual runs are queued
 * too: the next run finds them through the off-schedule log.
 */
export function snapshotAfterPlanning(
  snapshot: StateSnapshot,
  definitions: ReadonlyMap<string, string>,
  updatedAt: string,
  queuedRunId: string,
): StateSnapshot {
  const sources: Record<string, SourceState> = {};
  for (const [id, definition] of definitions) {
    sources[id] = stateForDefinition(snapshot.sources[id], definition);
  }
  const earlier = (snapshot.pendingRuns ?? []).filter((id) => id !== queuedRunId);
  return { ...snapshot, sources, pendingRuns: [...earlier, queuedRunId], updatedAt };
}
