import {
  type BatchResult,
  BatchResultSchema,
  batchFailureKey,
  batchResultKey,
  batchResultsPrefix,
  check,
  failuresPrefix,
  type HopRecord,
  type Log,
  batchId as makeBatchId,
  PackFormatError,
  parseJson,
  parsePackKey,
  type Redispatch,
  RedispatchSchema,
  type RunManifest,
  RunManifestSchema,
  rawPackKey,
  readPackHeader,
  redispatchKey,
  runManifestKey,
  runPacksPrefix,
  walkRun,
} from '@fanout/shared';
import { forEachBounded } from './dispatch.js';
import { type BucketRef, exists, getStream, getText, listKeys } from './storage.js';

/**
 * A run's records, read by key: every key is a function of (run, batch, hop), and LIST
 * is billed like a PUT. The one exception is checking many batches for a hop-0 record
 * (settledBatchIds), where a few listings cost less than three HEADs per batch. A hop's
 * outcomes are in the header of its raw pack (or, from earlier versions, its batch result).
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
  /** Batches a replay added to the run (from the off-schedule log): their outcomes count too. */
  readonly extraBatchIds?: readonly string[];
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
 * A run's outcomes, read by key (`walkRun` from `@fanout/shared`): each planned batch
 * from hop 0 along what each hop `continued`, and the batches a replay added. A hop with
 * no record leaves its sources unaccounted for, unless their outcomes are elsewhere (a
 * replay); in a run past every collector, a silent hop is followed to the batch its tasks
 * were sent again to, if they were, and is reported as stalled if not.
 */
export async function readRunOutcomes(
  ref: BucketRef,
  manifest: RunManifest,
  options: RunOutcomeOptions,
  log: Log,
): Promise<RunOutcomes> {
  const { runId, scheduledAt } = manifest;
  const walked = await walkRun(
    manifest,
    {
      hop: (at) => readHopRecord(ref, { runId, scheduledAt, ...at }, options.maxLineBytes, log),
      redispatch: (at) => readRedispatch(ref, runId, at.batchId, at.hop, log),
    },
    {
      extraBatchIds: options.extraBatchIds ?? [],
      followRedispatches: options.pastCollectors,
      maxHops: MAX_HOPS_FOLLOWED,
      concurrency: RECORD_READ_CONCURRENCY,
    },
  );
  const stalled = options.pastCollectors
    ? walked.silent
        .filter((hop) => hop.planned)
        .map((hop) => ({
          run: manifest,
          batchId: hop.batchId,
          hop: hop.hop,
          sourceIds: hop.sourceIds,
        }))
    : [];
  return { results: walked.results, unaccounted: walked.unaccounted, stalled };
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

/**
 * From this many batches, listing the run's three record prefixes costs less than HEADing
 * up to three keys per batch: a LIST is billed like a PUT, 12.5 times a HEAD, so 16 batches
 * (up to 48 HEADs) cost about as much as 4 LISTs, and take far more round trips.
 */
export const LIST_RECORDS_FROM_BATCHES = 16;

/**
 * Of `batchIds`, those that already have a record at hop 0 (pack, batch result or failure
 * record): a re-dispatch would redo their work. Few batches: HEADs; many (a dispatch part,
 * a retried large run): one listing per record prefix, whatever the number of batches.
 */
export async function settledBatchIds(
  ref: BucketRef,
  run: Pick<RunManifest, 'runId' | 'scheduledAt'>,
  batchIds: readonly string[],
): Promise<Set<string>> {
  if (batchIds.length >= LIST_RECORDS_FROM_BATCHES)
    return listedSettledBatchIds(ref, run, batchIds);
  const settled = new Set<string>();
  await forEachBounded(batchIds, RECORD_READ_CONCURRENCY, async (batchId) => {
    if (await batchHasRecord(ref, run, batchId)) settled.add(batchId);
  });
  return settled;
}

async function listedSettledBatchIds(
  ref: BucketRef,
  run: Pick<RunManifest, 'runId' | 'scheduledAt'>,
  batchIds: readonly string[],
): Promise<Set<string>> {
  const wanted = new Set(batchIds);
  const [packs, results, failures] = await Promise.all([
    listKeys(ref, runPacksPrefix(run.runId, run.scheduledAt)),
    listKeys(ref, batchResultsPrefix(run.runId)),
    listKeys(ref, failuresPrefix(run.runId)),
  ]);
  const settled = new Set<string>();
  for (const key of packs) {
    const pack = parsePackKey(key);
    if (pack?.runId === run.runId && pack.hop === 0 && wanted.has(pack.batchId)) {
      settled.add(pack.batchId);
    }
  }
  const HOP_0 = '-h0.json';
  for (const [prefix, keys] of [
    [batchResultsPrefix(run.runId), results],
    [failuresPrefix(run.runId), failures],
  ] as const) {
    for (const key of keys) {
      const name = key.slice(prefix.length);
      const batchId = name.endsWith(HOP_0) ? name.slice(0, -HOP_0.length) : undefined;
      if (batchId !== undefined && wanted.has(batchId)) settled.add(batchId);
    }
  }
  return settled;
}
