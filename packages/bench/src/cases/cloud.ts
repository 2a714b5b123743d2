import type { LocalCloud, LocalSession } from '@fanout/local';
import { type RunStatus, runIdFromTime } from '@fanout/shared';

/**
 * Collection is over when the manager has finished dispatching and no collector
 * invocation is queued, waiting for a retry or running. Parsing may still go on.
 */
export function collectionDone(cloud: LocalCloud): boolean {
  const stats = cloud.lambda.stats();
  const manager = stats[cloud.functionName('manager')];
  const collector = stats[cloud.functionName('collector')];
  if (!collector) return false;
  const managerIdle = !manager || manager.queued + manager.running + manager.retrying === 0;
  return (
    managerIdle &&
    collector.invocations > 0 &&
    collector.queued + collector.running + collector.retrying === 0
  );
}

/** Serves only the generated demo sources (no slow, flaky or malformed ones), so every source is alike. */
export async function useGeneratedSourcesOnly(session: LocalSession): Promise<number> {
  const manifest = session.demo.manifest({ fixed: false });
  await session.cloud.putManifest(manifest);
  return manifest.sources.length;
}

export interface QuietCycle {
  readonly runId: string;
  readonly status: RunStatus;
  /** Until the manager has dispatched and no collector is queued or running. */
  readonly collectMs: number;
  /** Until nothing is left to do (every object parsed). */
  readonly totalMs: number;
}

/**
 * One scheduled cycle, waited on through the Lambda and S3 queues only; the run
 * records are read once, when nothing writes them any more. (Polling them while
 * thousands are written made the earlier S3 server answer some reads with a 500 InternalError
 * when a read races a write, which would fail the measurement, not the pipeline.)
 */
export async function quietCycle(session: LocalSession, time: Date): Promise<QuietCycle> {
  const { cloud } = session;
  const started = Date.now();
  const event = await cloud.fireSchedule(time);
  let collectMs = 0;
  const watch = setInterval(() => {
    if (!collectMs && collectionDone(cloud)) collectMs = Date.now() - started;
  }, 5);
  try {
    await cloud.settled();
  } finally {
    clearInterval(watch);
  }
  const totalMs = Date.now() - started;
  const runId = runIdFromTime(event.time);
  const status = await session.records.status(runId);
  return { runId, status, collectMs: collectMs || totalMs, totalMs };
}
