import {
  PREFIXES,
  parsePackKey,
  partitionDate,
  type RunManifest,
  type RunRecords,
  runPrefix,
} from '@fanout/shared';
import type { RunRecordReader } from '../run-records.js';

/**
 * The bytes a run left in the bucket: the sizes listed under its own prefixes (run
 * records, packs, parsed objects, quarantined pack entries), plus the body bytes of
 * single raw objects (bodies over 1 MiB stored alone; their size is in the outcome).
 */
export async function storedBytesOfRun(
  reader: RunRecordReader,
  runId: string,
  records: RunRecords,
): Promise<number> {
  const manifest = records.manifest;
  const prefixes = [runPrefix(runId)];
  if (manifest) {
    const date = partitionDate(manifest.scheduledAt);
    prefixes.push(
      `${PREFIXES.raw}packs/dt=${date}/${runId}-`,
      `${PREFIXES.parsed}dt=${date}/${runId}~`,
      `${PREFIXES.quarantine}packs/dt=${date}/${runId}-`,
    );
  }
  const listed = await Promise.all(prefixes.map((prefix) => reader.list(prefix)));
  let bytes = listed.flat().reduce((sum, item) => sum + item.size, 0);
  const singles = new Map<string, number>();
  for (const result of records.results) {
    for (const outcome of result.outcomes) {
      if (outcome.status !== 'ok') continue;
      for (const key of outcome.rawKeys) {
        if (!parsePackKey(key)) singles.set(key, (singles.get(key) ?? 0) + outcome.bytes);
      }
    }
  }
  for (const size of singles.values()) bytes += size;
  return bytes;
}

const SCHEDULED_RUN_ID = /^\d{8}T\d{6}Z$/;

function later(a: RunManifest, b: RunManifest): number {
  return (
    Date.parse(b.scheduledAt) - Date.parse(a.scheduledAt) ||
    Date.parse(b.createdAt) - Date.parse(a.createdAt) ||
    (a.runId < b.runId ? 1 : -1)
  );
}

/**
 * The manifests of the `count` latest runs by time, newest first (as `fanout status`
 * picks the latest). A scheduled run's id is its time, so only the newest `count` of
 * those with a manifest are read; manual runs are all read, as their ids say nothing.
 */
export async function latestRuns(reader: RunRecordReader, count: number): Promise<RunManifest[]> {
  const ids = await reader.runIds();
  const scheduled = ids
    .filter((id) => SCHEDULED_RUN_ID.test(id))
    .sort()
    .reverse();
  const found: RunManifest[] = [];
  for (const id of scheduled) {
    if (found.length >= count) break;
    const manifest = await reader.readManifest(id);
    if (manifest) found.push(manifest);
  }
  for (const id of ids.filter((id) => !SCHEDULED_RUN_ID.test(id))) {
    const manifest = await reader.readManifest(id);
    if (manifest) found.push(manifest);
  }
  return found.sort(later).slice(0, count);
}
