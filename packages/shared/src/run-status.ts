import { followedLinks } from './follow.js';
import type {
  BatchFailure,
  BatchResult,
  ParsedObjectOutcome,
  RunManifest,
  TaskOutcome,
} from './records.js';

/**
 * What became of one raw object (a pack or a single response): parsed (its parsed
 * object's metadata, which may count pages quarantined on their own) or quarantined
 * whole (an error report beside its copy).
 */
export type RawObjectOutcome =
  | { readonly status: 'parsed'; readonly outcome: ParsedObjectOutcome }
  | { readonly status: 'quarantined'; readonly reason: string };

export interface RunStatus {
  readonly runId: string;
  readonly runState: RunManifest['status'] | 'unknown';
  /** Every task has an outcome (or a failure record) and every raw object a parse outcome. */
  readonly complete: boolean;
  /** Sources in the run, valid or not, due or not. */
  readonly sources: number;
  /**
   * Detail pages the run's hops found and made tasks of (sources with `follow`). They are
   * tasks of the run: collected, unchanged, failed and pending count them too.
   */
  readonly detailTasks: number;
  readonly collected: number;
  readonly unchanged: number;
  /** Sources whose cadence was not due at the run's scheduled time: not planned, not pending. */
  readonly notDue: number;
  /** Failed tasks: fetch failures, invalid manifest entries, undispatched batches. */
  readonly failed: number;
  /** Planned tasks with no outcome yet. */
  readonly pending: number;
  /** Raw objects (packs and single responses) the run's outcomes name. */
  readonly rawObjects: number;
  /** Response pages stored (entries of packs, single raw objects). */
  readonly pages: number;
  /** Pages parsed into records. */
  readonly parsed: number;
  /** Pages quarantined, alone or with their whole raw object. */
  readonly quarantined: number;
  /** Pages whose raw object has no parse outcome yet. */
  readonly unparsed: number;
  readonly batches: number;
  readonly failedBatches: number;
  readonly pendingSourceIds: readonly string[];
  readonly unparsedKeys: readonly string[];
}

export interface RunRecords {
  readonly manifest: RunManifest | undefined;
  readonly results: readonly BatchResult[];
  readonly failures: readonly BatchFailure[];
  /** Outcomes by raw key; a raw key with no entry is not parsed yet. */
  readonly rawOutcomes: ReadonlyMap<string, RawObjectOutcome>;
}

/** The latest outcome per source: a retry or continuation supersedes what it redid. */
export function finalOutcomes(results: readonly BatchResult[]): Map<string, TaskOutcome> {
  const bySource = new Map<string, TaskOutcome>();
  for (const result of results) {
    for (const outcome of result.outcomes) {
      const seen = bySource.get(outcome.sourceId);
      // Compare instants, not strings: `10:00:00Z` sorts after `10:00:00.500Z`, and
      // offsets other than Z do not sort at all.
      if (!seen || Date.parse(seen.finishedAt) <= Date.parse(outcome.finishedAt)) {
        bySource.set(outcome.sourceId, outcome);
      }
    }
  }
  return bySource;
}

/**
 * A run's completeness and counts, from its records in S3 alone: the same answer
 * locally and against a real bucket.
 */
export function computeRunStatus(runId: string, records: RunRecords): RunStatus {
  const { manifest, results, failures, rawOutcomes } = records;
  const fromPlan = manifest?.batches.flatMap((batch) => batch.sourceIds) ?? [];
  // Detail tasks join the run in the record of the hop that found them.
  const discovered = [...followedLinks(results).keys()];
  const planned = [...fromPlan, ...discovered];
  const outcomes = finalOutcomes(results);
  const failedBySource = new Set(failures.flatMap((failure) => failure.sourceIds));

  let collected = 0;
  let unchanged = 0;
  let failed = manifest?.invalidSources.length ?? 0;
  const pendingSourceIds: string[] = [];
  /** Pages per raw key: a pack holds the pages of many sources. */
  const pagesByKey = new Map<string, number>();
  for (const sourceId of planned) {
    const outcome = outcomes.get(sourceId);
    if (!outcome) {
      if (failedBySource.has(sourceId)) failed += 1;
      else pendingSourceIds.push(sourceId);
      continue;
    }
    if (outcome.status === 'ok') {
      collected += 1;
      for (const key of outcome.rawKeys) pagesByKey.set(key, (pagesByKey.get(key) ?? 0) + 1);
    } else if (outcome.status === 'unchanged') unchanged += 1;
    else failed += 1;
  }

  let pages = 0;
  let parsed = 0;
  let quarantined = 0;
  let unparsed = 0;
  const unparsedKeys: string[] = [];
  for (const [key, count] of pagesByKey) {
    pages += count;
    const raw = rawOutcomes.get(key);
    if (!raw) {
      unparsed += count;
      unparsedKeys.push(key);
    } else if (raw.status === 'quarantined') {
      quarantined += count;
    } else {
      // The run's final outcomes may name fewer pages of a pack than it holds (a source
      // redone in a later hop after a duplicate delivery of this one), or more (a retried
      // hop rewrote the pack after the parser read it: the new version's parse is due).
      // Pages the parser's outcome does not account for are not parsed yet.
      const pagesParsed = Math.min(count, raw.outcome.parsed);
      const pagesQuarantined = Math.min(count - pagesParsed, raw.outcome.quarantined);
      const waiting = count - pagesParsed - pagesQuarantined;
      parsed += pagesParsed;
      quarantined += pagesQuarantined;
      if (waiting > 0) {
        unparsed += waiting;
        unparsedKeys.push(key);
      }
    }
  }

  const notDue = manifest?.notDueSourceIds?.length ?? 0;
  const runState = manifest?.status ?? 'unknown';
  const complete =
    manifest !== undefined &&
    (runState === 'failed' || (pendingSourceIds.length === 0 && unparsedKeys.length === 0));
  return {
    runId,
    runState,
    complete,
    sources: fromPlan.length + (manifest?.invalidSources.length ?? 0) + notDue,
    detailTasks: discovered.length,
    collected,
    unchanged,
    notDue,
    failed,
    pending: pendingSourceIds.length,
    rawObjects: pagesByKey.size,
    pages,
    parsed,
    quarantined,
    unparsed,
    batches: manifest?.batches.length ?? 0,
    failedBatches: new Set(failures.map((failure) => failure.batchId ?? failure.recordedAt)).size,
    pendingSourceIds,
    unparsedKeys,
  };
}
