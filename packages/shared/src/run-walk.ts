import type { BatchResult, Redispatch, RunManifest } from './records.js';
import { finalOutcomes } from './run-status.js';

/**
 * A run's hops, walked the same way by every reader (the manager merging a run into the
 * state and deciding what to send again, `fanout replay` deciding what is pending): each
 * planned batch from hop 0 along the tasks each hop `continued`, a silent hop to the batch
 * its tasks were sent again to (a redispatch record, by the manager or by a replay), and
 * the batches a replay added. A task's outcome counts wherever it was recorded, so a
 * replayed or redispatched hop stands for the planned one.
 */

export type HopRecord =
  /** The hop's outcomes, from its pack header or its batch result. */
  | { readonly kind: 'result'; readonly result: BatchResult }
  /** The hop ran but its record cannot be read, or it could not run (a failure record). */
  | { readonly kind: 'settled'; readonly reason: string }
  /** Nothing yet: the hop has not finished (or was never run). */
  | { readonly kind: 'none' };

export interface HopAt {
  readonly batchId: string;
  readonly hop: number;
}

/** Where a walk reads hop records: by key from S3 (manager) or from a listing (replay). */
export interface HopRecordReader {
  hop(at: HopAt): Promise<HopRecord>;
  /** The record that the hop's tasks went to a new batch, if there is one. */
  redispatch(at: HopAt): Promise<Redispatch | undefined>;
}

/** A hop with no record whose tasks have no outcome anywhere else in the run. */
export interface SilentHop extends HopAt {
  readonly sourceIds: readonly string[];
  /** A hop of a batch in the run's plan (not of a batch sent again). */
  readonly planned: boolean;
}

export interface RunWalk {
  /** Each hop record found, once. */
  readonly results: readonly BatchResult[];
  readonly silent: readonly SilentHop[];
  /** Sources of silent hops: the run is not finished while there are any. */
  readonly unaccounted: readonly string[];
}

export interface RunWalkOptions {
  /** Batches outside the plan that may hold outcomes (a replay's), walked from hop 0. */
  readonly extraBatchIds?: readonly string[];
  /** Look up the redispatch record of each silent hop and follow it (one read per hop). */
  readonly followRedispatches: boolean;
  /** Hops followed per batch at most (the collector's hop limit plus margin). */
  readonly maxHops: number;
  /** Reads in flight at once. */
  readonly concurrency: number;
}

/** Redispatch records followed in a row: a batch sent again that stalls may be sent again once more. */
const MAX_REDISPATCH_DEPTH = 4;

async function eachBounded<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < items.length; index = next++) {
      const item = items[index];
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker),
  );
}

export async function walkRun(
  manifest: Pick<RunManifest, 'batches'>,
  reader: HopRecordReader,
  options: RunWalkOptions,
): Promise<RunWalk> {
  const records = new Map<string, Promise<HopRecord>>();
  const readHop = (at: HopAt): Promise<HopRecord> => {
    const id = `${at.batchId}-h${at.hop}`;
    let record = records.get(id);
    if (record === undefined) {
      record = reader.hop(at);
      records.set(id, record);
    }
    return record;
  };
  const found = new Map<string, BatchResult>();
  const silent: SilentHop[] = [];

  const walk = async (
    batchId: string,
    first: readonly string[] | undefined,
    planned: boolean,
    depth: number,
  ): Promise<void> => {
    let sourceIds = first;
    for (let hop = 0; sourceIds === undefined || sourceIds.length > 0; hop += 1) {
      if (hop >= options.maxHops) {
        if (sourceIds !== undefined) silent.push({ batchId, hop, sourceIds, planned });
        return;
      }
      const at = { batchId, hop };
      const record = await readHop(at);
      if (record.kind === 'settled') return;
      if (record.kind === 'result') {
        found.set(`${batchId}-h${hop}`, record.result);
        const wanted = sourceIds === undefined ? undefined : new Set(sourceIds);
        sourceIds = record.result.continued.filter((id) => wanted === undefined || wanted.has(id));
        continue;
      }
      // A batch outside the plan that never reported names no sources: nothing to account for.
      if (sourceIds === undefined) return;
      if (options.followRedispatches && depth < MAX_REDISPATCH_DEPTH) {
        const again = await reader.redispatch(at);
        if (again) {
          // Tasks the record left out (no longer in the manifest) were given up when it was written.
          const mine = new Set(sourceIds);
          const carried = again.sourceIds.filter((id) => mine.has(id));
          await walk(again.batchId, carried, false, depth + 1);
          return;
        }
      }
      silent.push({ batchId, hop, sourceIds, planned });
      return;
    }
  };

  await eachBounded(
    [
      ...manifest.batches.map((batch) => ({ batchId: batch.batchId, sourceIds: batch.sourceIds })),
      ...(options.extraBatchIds ?? []).map((batchId) => ({ batchId, sourceIds: undefined })),
    ],
    options.concurrency,
    (start) => walk(start.batchId, start.sourceIds, start.sourceIds !== undefined, 0),
  );
  const results = [...found.values()];
  const outcomes = finalOutcomes(results);
  // In batch and hop order, whatever order the reads finished in.
  const stillSilent = silent
    .map((hop) => ({ ...hop, sourceIds: hop.sourceIds.filter((id) => !outcomes.has(id)) }))
    .filter((hop) => hop.sourceIds.length > 0)
    .sort((a, b) => (a.batchId === b.batchId ? a.hop - b.hop : a.batchId < b.batchId ? -1 : 1));
  return {
    results,
    silent: stillSilent,
    unaccounted: [...new Set(stillSilent.flatMap((hop) => hop.sourceIds))],
  };
}
