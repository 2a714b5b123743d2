import {
  type BatchResult,
  BatchResultSchema,
  batchFailureKey,
  batchResultKey,
  check,
  type Log,
  batchId as makeBatchId,
  PackFormatError,
  parseJson,
  type Redispatch,
  RedispatchSchema,
  type RunManifest,
  RunManifestSchema,
  rawPackKey,
  readPackHeader,
  redispatchKey,
  runManifestKey,
} from '@fanout/shared';
import { forEachBounded } from './dispatch.js';
import { type BucketRef, exists, getStream, getText } from './storage.js';

/**
 * A run's records, read by key and never listed: every key is a function of
 * (run, batch, hop), and LIST is billed like a PUT. A hop's outcomes are in the
 * header of its raw pack, or in its batch result when the hop stored no pack.
 */

/** S3 reads in flight at once while reading a run's records. */
export const RECORD_READ_CONCURRENCY = 16;

/** The hops a batch may run before its collector records the rest as failed, plus margin. */
export const MAX_HOPS_FOLLOWED = 20;

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

export type HopRecord =
  /** The hop's outcomes, from its pack header or its batch result. */
  | { readonly kind: 'result'; readonly result: BatchResult }
  /** The hop ran but its record cannot be read, or it could not run (a failure record). */
  | { readonly kind: 'settled'; readonly reason: string }
  /** Nothing yet: the hop has not finished (or was never run). */
  | { readonly kind: 'none' };

export interface HopRef {
  readonly runId: string;
  readonly scheduledAt: string;
  readonly batchId: string;
  readonly hop: number;
}

async function readPackRecord(
  ref: BucketRef,
  hop: HopRef,
  maxLineBytes: number,
  log: Log,
): Promise<HopRecord> {
  const key = rawPackKey(hop);
  const stream = await getStream(ref, key);
  if (stream === undefined) return { kind: 'none' };
  try {
    const header = await readPackHeader(stream, maxLineBytes);
    return { kind: 'result', result: header.result };
  } catch (error) {
    if (!(error instanceof PackFormatError)) throw error;
    // The hop ran (its pack is there); the parser quarantines the pack, the state loses its outcomes.
    log.warn('pack header unreadable; hop counted as settled without outcomes', {
      runId: hop.runId,
      batchId: hop.batchId,
      hop: hop.hop,
      key,
      error: error.message,
    });
    return { kind: 'settled', reason: error.message };
  }
}

async function readResultRecord(ref: BucketRef, hop: HopRef, log: Log): Promise<HopRecord> {
  const key = batchResultKey(hop.runId, hop.batchId, hop.hop);
  const text = await getText(ref, key);
  if (text === undefined) return { kind: 'none' };
  try {
    const result = check(BatchResultSchema, parseJson(text, 'batch result'));
    if (result.ok) return { kind: 'result', result: result.value };
    log.warn('batch result is invalid; not merged', {
      runId: hop.runId,
      key,
      issues: result.issues,
    });
    return { kind: 'settled', reason: result.issues.join('; ') };
  } catch (error) {
    log.warn('batch result is not JSON; not merged', {
      runId: hop.runId,
      key,
      error: (error as Error).message,
    });
    return { kind: 'settled', reason: (error as Error).message };
  }
}

/**
 * One hop's record: the pack header (one GET, reading the first line only), else the
 * batch result (one GET), else whether a failure record exists (one HEAD).
 */
export async function readHopRecord(
  ref: BucketRef,
  hop: HopRef,
  maxLineBytes: number,
  log: Log,
): Promise<HopRecord> {
  const pack = await readPackRecord(ref, hop, maxLineBytes, log);
  if (pack.kind !== 'none') return pack;
  const result = await readResultRecord(ref, hop, log);
  if (result.kind !== 'none') return result;
  if (await exists(ref, batchFailureKey(hop.runId, hop.batchId, hop.hop))) {
    return { kind: 'settled', reason: 'failure record' };
  }
  return { kind: 'none' };
}

/** A planned batch's hop with no record in a run past every collector: its tasks may go again. */
export interface StalledHop {
  readonly run: RunManifest;
  readonly batchId: string;
  readonly hop: number;
  readonly sourceIds: readonly string[];
}

export interface RunOutcomes {
  readonly results: readonly BatchResult[];
  /** Planned sources whose hop has no record yet: the run is not finished. */
  readonly unaccounted: readonly string[];
  /** Hops of planned batches that will never report on their own (only for a stalled run). */
  readonly stalled: readonly StalledHop[];
}

export interface RunOutcomeOptions {
  readonly maxLineBytes: number;
  /**
   * The run is older than any collector can still be working on it: a planned
   * batch's hop with no record is looked up in `redispatches/` (one GET), and
   * reported as stalled when it has not been dispatched again yet.
   */
  readonly pastCollectors: boolean;
}

/**
 * The batch id that carries the tasks of a stalled hop: above the run's planned ones,
 * one per (planned batch, hop), so a second manager finds the same one.
 */
export function redispatchBatchId(run: RunManifest, batchId: string, hop: number): string {
  const index = run.batches.findIndex((batch) => batch.batchId === batchId);
  return makeBatchId(run.batches.length + Math.max(0, index) * MAX_HOPS_FOLLOWED + hop);
}

async function readRedispatch(
  ref: BucketRef,
  runId: string,
  batchId: string,
  hop: number,
  log: Log,
): Promise<Redispatch | undefined> {
  const key = redispatchKey(runId, batchId, hop);
  const text = await getText(ref, key);
  if (text === undefined) return undefined;
  try {
    const result = check(RedispatchSchema, parseJson(text, 'redispatch record'));
    if (result.ok) return result.value;
    log.warn('redispatch record is invalid; ignored', { runId, key, issues: result.issues });
  } catch (error) {
    log.warn('redispatch record is not JSON; ignored', {
      runId,
      key,
      error: (error as Error).message,
    });
  }
  return undefined;
}

/**
 * A run's outcomes: for each planned batch, hop 0's record, then hop 1 for the
 * sources hop 0 `continued`, and so on. A hop with no record leaves its sources
 * unaccounted for; in a run past every collector, a planned batch's silent hop is
 * followed to the batch its tasks were dispatched to again, if they were.
 */
export async function readRunOutcomes(
  ref: BucketRef,
  manifest: RunManifest,
  options: RunOutcomeOptions,
  log: Log,
): Promise<RunOutcomes> {
  const results: BatchResult[] = [];
  const unaccounted: string[] = [];
  const stalled: StalledHop[] = [];
  const walk = async (
    batchId: string,
    first: readonly string[],
    planned: boolean,
  ): Promise<void> => {
    let sourceIds = first;
    for (let hop = 0; sourceIds.length > 0; hop += 1) {
      if (hop >= MAX_HOPS_FOLLOWED) {
        unaccounted.push(...sourceIds);
        return;
      }
      const at = { runId: manifest.runId, scheduledAt: manifest.scheduledAt, batchId, hop };
      const record = await readHopRecord(ref, at, options.maxLineBytes, log);
      if (record.kind === 'settled') return;
      if (record.kind === 'result') {
        results.push(record.result);
        sourceIds = record.result.continued;
        continue;
      }
      if (planned && options.pastCollectors) {
        const again = await readRedispatch(ref, manifest.runId, batchId, hop, log);
        if (again) {
          await walk(again.batchId, again.sourceIds, false);
          return;
        }
        stalled.push({ run: manifest, batchId, hop, sourceIds });
      }
      unaccounted.push(...sourceIds);
      return;
    }
  };
  await forEachBounded(manifest.batches, RECORD_READ_CONCURRENCY, (batch) =>
    walk(batch.batchId, batch.sourceIds, true),
  );
  return { results, unaccounted, stalled };
}

/**
 * Whether a batch has a record at hop 0 (pack, batch result or failure record): a
 * collector ran it, or it could not be dispatched. HEADs only, stopping at the first found.
 */
export async function batchHasRecord(
  ref: BucketRef,
  run: Pick<RunManifest, 'runId' | 'scheduledAt'>,
  batchId: string,
): Promise<boolean> {
  const hop = { runId: run.runId, scheduledAt: run.scheduledAt, batchId, hop: 0 };
  for (const key of [
    rawPackKey(hop),
    batchResultKey(run.runId, batchId, 0),
    batchFailureKey(run.runId, batchId, 0),
  ]) {
    if (await exists(ref, key)) return true;
  }
  return false;
}

/** Of `batchIds`, those that already have a record: a re-dispatch would redo their work. */
export async function settledBatchIds(
  ref: BucketRef,
  run: Pick<RunManifest, 'runId' | 'scheduledAt'>,
  batchIds: readonly string[],
): Promise<Set<string>> {
  const settled = new Set<string>();
  await forEachBounded(batchIds, RECORD_READ_CONCURRENCY, async (batchId) => {
    if (await batchHasRecord(ref, run, batchId)) settled.add(batchId);
  });
  return settled;
}
