import {
  type Log,
  type OffScheduleEntry,
  type OffScheduleLog,
  offScheduleLogKey,
  PREFIXES,
  parseOffScheduleLog,
  previousFireTimes,
  type RunManifest,
  runIdFromTime,
  runManifestKey,
  type Schedule,
  type StateSnapshot,
  timeOfRunId,
} from '@fanout/shared';
import { readRunManifest } from './records.js';
import { readLegacySnapshot } from './state.js';
import { type BucketRef, getText, listFolders } from './storage.js';

/**
 * Where the state a run starts from comes from. Scheduled run ids are their fire times,
 * so the previous scheduled run's manifest is at a key computed from the schedule (one
 * GET; a missed cycle, one more). Work the schedule cannot find by key (a manual run, a
 * replay) is in one small object, the off-schedule log (one GET): a manual run newer than
 * the scheduled one is the state's head, and every run or replay logged since the head
 * planned is merged. Only when neither finds anything (a first run, or more missed
 * cycles than the lookback) are the run ids listed, to find the latest run there is.
 */

export interface PreviousState {
  /** The head's state, with the runs logged since it planned queued for merging. */
  readonly snapshot: StateSnapshot;
  /**
   * `run`: the previous scheduled run's manifest. `manual`: a manual run planned after it.
   * `listing`: the latest run found by listing run ids (no run within the lookback).
   * `legacy`: no manifest with state, so `state/sources.json` (or nothing) was read.
   */
  readonly from: 'run' | 'manual' | 'listing' | 'legacy';
  /** The run whose manifest holds the starting state, if any. */
  readonly previousRunId?: string;
  /** Manifests read on the way (the merge reads the previous run's batches from it). */
  readonly manifests: ReadonlyMap<string, RunManifest>;
  /** The off-schedule log as read (a manual run adds itself to it). */
  readonly offSchedule: OffScheduleLog;
  /** Batches replays added to runs, by run id: their outcomes are merged with the run's. */
  readonly replayBatches: ReadonlyMap<string, readonly string[]>;
}

export interface PreviousStateOptions {
  readonly schedule: Schedule;
  readonly previousRunLookback: number;
}

/**
 * The anchor of the walk: a scheduled run starts from its own fire time; a manual run
 * from the clock (the latest scheduled run at or before now).
 */
export interface LookbackAnchor {
  readonly at: Date;
  readonly isFireTime: boolean;
}

/** The scheduled run ids a run looks back to, newest first (one GET each at most). */
export function previousRunIds(
  schedule: Schedule,
  anchor: LookbackAnchor,
  lookback: number,
): string[] {
  return previousFireTimes(schedule, anchor.at, lookback, {
    fromIsFireTime: anchor.isFireTime,
  }).map((time) => runIdFromTime(time));
}

/** How far back the listing looks first; then it lists every run id. */
const LISTING_WINDOWS_MS = [2 * 86_400_000, Number.POSITIVE_INFINITY];
/** Manifests read, newest first, before a listing gives up looking for one with state. */
const LISTED_MANIFESTS_READ = 5;

type Head = { readonly manifest: RunManifest; readonly state: StateSnapshot };

async function readOffSchedule(ref: BucketRef, log: Log): Promise<OffScheduleLog> {
  const key = offScheduleLogKey();
  const text = await getText(ref, key);
  if (text === undefined) return { version: 1, entries: [] };
  const read = parseOffScheduleLog(text);
  if (read.problem !== undefined) {
    log.warn('off-schedule log unreadable; manual runs and replays in it are not merged', {
      key,
      problem: read.problem,
    });
  }
  return read.log;
}

/** The latest run manifest with state among run ids before `before`, by listing `runs/`. */
async function latestListedRun(
  ref: BucketRef,
  before: Date,
  currentRunId: string,
  manifests: Map<string, RunManifest>,
  log: Log,
): Promise<Head | undefined> {
  for (const windowMs of LISTING_WINDOWS_MS) {
    const startAfter = Number.isFinite(windowMs)
      ? `${PREFIXES.runs}${runIdFromTime(new Date(before.getTime() - windowMs))}`
      : undefined;
    const latest = runIdFromTime(before);
    const ids = (await listFolders(ref, PREFIXES.runs, startAfter))
      .filter((id) => timeOfRunId(id) !== undefined && id <= latest && id !== currentRunId)
      .sort()
      .reverse()
      .slice(0, LISTED_MANIFESTS_READ);
    for (const runId of ids) {
      const { manifest } = await readRunManifest(ref, runId);
      if (manifest?.state === undefined) continue;
      manifests.set(runId, manifest);
      log.info('no run within the lookback; the latest run was found by listing', {
        runId,
        key: runManifestKey(runId),
      });
      return { manifest, state: manifest.state };
    }
    if (ids.length > 0) return undefined;
  }
  return undefined;
}

function headTime(head: Head): number {
  return Date.parse(head.state.updatedAt ?? head.manifest.createdAt);
}

/** The newest manual run logged after `after` (ms), other than the current run. */
function newestManual(
  entries: readonly OffScheduleEntry[],
  after: number,
  currentRunId: string,
): OffScheduleEntry | undefined {
  let newest: OffScheduleEntry | undefined;
  for (const entry of entries) {
    if (entry.kind !== 'manual' || entry.runId === currentRunId) continue;
    const at = Date.parse(entry.at);
    if (at >= after && (!newest || at > Date.parse(newest.at))) newest = entry;
  }
  return newest;
}

/**
 * The head's pending runs, and every run or replay logged since the head planned: their
 * outcomes are new to its state (a replay of a run the head already merged reopens it).
 */
function withLoggedRuns(
  snapshot: StateSnapshot,
  entries: readonly OffScheduleEntry[],
  currentRunId: string,
): string[] {
  const since =
    snapshot.updatedAt === undefined ? Number.NEGATIVE_INFINITY : Date.parse(snapshot.updatedAt);
  const pending = [...(snapshot.pendingRuns ?? [])];
  for (const entry of entries) {
    if (entry.runId === currentRunId || Date.parse(entry.at) < since) continue;
    if (!pending.includes(entry.runId)) pending.push(entry.runId);
  }
  return pending;
}

/** The batches replays added, by run: merged with the run's own while it is pending. */
function replayBatchesOf(entries: readonly OffScheduleEntry[]): Map<string, string[]> {
  const batches = new Map<string, string[]>();
  for (const entry of entries) {
    if (entry.kind !== 'replay' || !entry.batchIds) continue;
    batches.set(entry.runId, [
      ...new Set([...(batches.get(entry.runId) ?? []), ...entry.batchIds]),
    ]);
  }
  return batches;
}

export async function findPreviousState(
  ref: BucketRef,
  anchor: LookbackAnchor,
  currentRunId: string,
  options: PreviousStateOptions,
  log: Log,
): Promise<PreviousState> {
  const manifests = new Map<string, RunManifest>();
  let head: Head | undefined;
  let from: PreviousState['from'] = 'run';
  let legacyManifest = false;
  for (const runId of previousRunIds(options.schedule, anchor, options.previousRunLookback)) {
    const { manifest, problem } = await readRunManifest(ref, runId);
    if (problem !== undefined) {
      log.warn('earlier run manifest unreadable; looking further back', { runId, problem });
      continue;
    }
    if (manifest === undefined) continue;
    manifests.set(runId, manifest);
    if (manifest.state !== undefined) head = { manifest, state: manifest.state };
    else legacyManifest = true;
    break;
  }

  const offSchedule = await readOffSchedule(ref, log);
  const manual = newestManual(
    offSchedule.entries,
    head ? headTime(head) : Number.NEGATIVE_INFINITY,
    currentRunId,
  );
  if (manual) {
    const { manifest } = await readRunManifest(ref, manual.runId);
    if (manifest?.state !== undefined) {
      manifests.set(manual.runId, manifest);
      head = { manifest, state: manifest.state };
      from = 'manual';
    }
  }
  if (head === undefined && !legacyManifest) {
    head = await latestListedRun(ref, anchor.at, currentRunId, manifests, log);
    if (head) from = 'listing';
  }

  let snapshot: StateSnapshot;
  if (head) {
    snapshot = head.state;
  } else {
    log.warn(
      legacyManifest
        ? 'previous run manifest carries no state; reading state/sources.json'
        : 'no earlier run found; reading state/sources.json',
      { lookback: options.previousRunLookback },
    );
    snapshot = await readLegacySnapshot(ref, log);
    from = 'legacy';
  }

  const pending = withLoggedRuns(snapshot, offSchedule.entries, currentRunId);
  const replayBatches = replayBatchesOf(offSchedule.entries);
  return {
    snapshot: { ...snapshot, pendingRuns: pending },
    from,
    ...(head ? { previousRunId: head.manifest.runId } : {}),
    manifests,
    offSchedule,
    replayBatches,
  };
}
