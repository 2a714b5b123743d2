import type { LocalCloud, LocalSession } from '@fanout/local';

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
