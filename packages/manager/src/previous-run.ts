import {
  type Log,
  previousFireTimes,
  type RunManifest,
  runIdFromTime,
  type Schedule,
  type StateSnapshot,
} from '@fanout/shared';
import { readRunManifest } from './records.js';
import { readLegacySnapshot } from './state.js';
import type { BucketRef } from './storage.js';

/**
 * Where the state a run starts from comes from, without LIST: scheduled run ids are
 * their fire times, so the previous run's manifest is at a key computed from the
 * schedule. A missed cycle has no manifest; the walk goes one fire time further back.
 */

export interface PreviousState {
  readonly snapshot: StateSnapshot;
  /**
   * `run`: the state in the previous run's manifest. `legacy`: the previous manifest
   * predates state in manifests (or none was found), so `state/sources.json` was read.
   */
  readonly from: 'run' | 'legacy';
  /** The scheduled run whose manifest was found, if any. */
  readonly previousRunId?: string;
  /** Manifests read on the way (the merge reads the previous run's batches from it). */
  readonly manifests: ReadonlyMap<string, RunManifest>;
}

export interface PreviousStateOptions {
  readonly schedule: Schedule;
  readonly previousRunLookback: number;
}

/**
 * The anchor of the walk: a scheduled run starts from its own fire time; a manual run
 * from the clock (it reads the latest scheduled run, and is itself never read back).
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

export async function findPreviousState(
  ref: BucketRef,
  anchor: LookbackAnchor,
  options: PreviousStateOptions,
  log: Log,
): Promise<PreviousState> {
  const manifests = new Map<string, RunManifest>();
  for (const runId of previousRunIds(options.schedule, anchor, options.previousRunLookback)) {
    const { manifest, problem } = await readRunManifest(ref, runId);
    if (problem !== undefined) {
      log.warn('earlier run manifest unreadable; looking further back', { runId, problem });
      continue;
    }
    if (manifest === undefined) continue;
    manifests.set(runId, manifest);
    if (manifest.state !== undefined) {
      return { snapshot: manifest.state, from: 'run', previousRunId: runId, manifests };
    }
    // A manifest from before state moved into manifests: that version kept the state here.
    log.info('previous run manifest carries no state; reading state/sources.json', { runId });
    return {
      snapshot: await readLegacySnapshot(ref, log),
      from: 'legacy',
      previousRunId: runId,
      manifests,
    };
  }
  log.warn('no earlier scheduled run found; reading state/sources.json', {
    lookback: options.previousRunLookback,
  });
  return { snapshot: await readLegacySnapshot(ref, log), from: 'legacy', manifests };
}
