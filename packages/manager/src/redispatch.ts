import {
  type FollowSpread,
  followTask,
  linkHash,
  type Redispatch,
  redispatchKey,
  type Source,
  type StateSnapshot,
} from '@fanout/shared';
import { type DispatchDeps, type DispatchSettings, dispatchBatches } from './dispatch.js';
import { buildPayload, taskFor } from './plan.js';
import { redispatchBatchId, type StalledHop } from './records.js';
import { putJsonIfAbsent } from './storage.js';

/**
 * Runs that finish on their own: the tasks of a batch hop that never reported, in a
 * run past every collector (its event expired or its invocation timed out), go out
 * again as a new batch of the same run. Each costs one PUT, the redispatch record,
 * written with `If-None-Match: *` before the invocation so that two managers never
 * both send it; a cycle with nothing stalled costs nothing.
 */

export interface RedispatchReport {
  /** New batches handed to a collector. */
  readonly dispatched: number;
  /** New batches recorded as dispatch-failed (their run is then accounted for). */
  readonly failed: number;
}

export async function redispatchStalled(
  stalled: readonly StalledHop[],
  sources: ReadonlyMap<string, Source>,
  snapshot: StateSnapshot,
  settings: DispatchSettings & {
    readonly defaultEstimateMs: number;
    readonly followSpread: FollowSpread;
  },
  deps: DispatchDeps,
): Promise<RedispatchReport> {
  let dispatched = 0;
  let failed = 0;
  for (const hop of stalled) {
    const { run } = hop;
    const log = { runId: run.runId, batchId: hop.batchId, hop: hop.hop };
    const tasks = hop.sourceIds.flatMap((id) => {
      const source = sources.get(id);
      if (source) {
        return [taskFor(source, snapshot.sources[source.id], settings.defaultEstimateMs)];
      }
      // A detail page: rebuilt from the link its hop recorded and the source that found it.
      const link = hop.links?.get(id);
      const parent = link === undefined ? undefined : sources.get(link.sourceId);
      if (link === undefined || parent?.follow === undefined) return [];
      const previous = snapshot.sources[parent.id]?.follow?.[linkHash(link.url)];
      return [followTask(parent, link, previous, settings.defaultEstimateMs)];
    });
    if (tasks.length === 0) {
      deps.log.warn('stalled tasks are no longer in the source manifest; not sent again', log);
      continue;
    }
    const batchId = redispatchBatchId(run, hop.batchId, hop.hop);
    const record: Redispatch = {
      runId: run.runId,
      fromBatchId: hop.batchId,
      fromHop: hop.hop,
      batchId,
      sourceIds: tasks.map((task) => task.source.id),
      dispatchedAt: new Date(deps.clock.now()).toISOString(),
    };
    if (
      !(await putJsonIfAbsent(deps.store, redispatchKey(run.runId, hop.batchId, hop.hop), record))
    ) {
      deps.log.info('stalled tasks already sent again by another manager', log);
      continue;
    }
    const payload = buildPayload(run.runId, run.scheduledAt, batchId, tasks, {
      ...(hop.origins !== undefined ? { origins: hop.origins } : {}),
      followSpread: settings.followSpread,
    });
    const report = await dispatchBatches(
      run.runId,
      [{ batchId, payload, missing: [] }],
      settings,
      deps,
    );
    dispatched += report.dispatched.length;
    failed += report.failures.length;
    deps.log.warn('batch hop never reported; its tasks were sent again as a new batch', {
      ...log,
      newBatchId: batchId,
      tasks: tasks.length,
    });
  }
  return { dispatched, failed };
}
