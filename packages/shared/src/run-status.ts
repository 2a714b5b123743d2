import type {
  BatchFailure,
  BatchResult,
  ParseOutcome,
  RunManifest,
  TaskOutcome,
} from './records.js';

export interface RunStatus {
  readonly runId: string;
  readonly runState: RunManifest['status'] | 'unknown';
  /** Every task has an outcome (or a failure record) and every raw object a parse outcome. */
  readonly complete: boolean;
  /** Sources in the run, valid or not. */
  readonly sources: number;
  readonly collected: number;
  readonly unchanged: number;
  /** Failed tasks: fetch failures, invalid manifest entries, undispatched batches. */
  readonly failed: number;
  /** Planned tasks with no outcome yet. */
  readonly pending: number;
  readonly rawObjects: number;
  readonly parsed: number;
  readonly quarantined: number;
  /** Raw objects with no parse outcome yet. */
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
  readonly parses: readonly ParseOutcome[];
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
  const { manifest, results, failures, parses } = records;
  const planned = manifest?.batches.flatMap((batch) => batch.sourceIds) ?? [];
  const outcomes = finalOutcomes(results);
  const failedBySource = new Set(failures.flatMap((failure) => failure.sourceIds));

  let collected = 0;
  let unchanged = 0;
  let failed = manifest?.invalidSources.length ?? 0;
  const pendingSourceIds: string[] = [];
  const rawKeys = new Set<string>();
  for (const sourceId of planned) {
    const outcome = outcomes.get(sourceId);
    if (!outcome) {
      if (failedBySource.has(sourceId)) failed += 1;
      else pendingSourceIds.push(sourceId);
      continue;
    }
    if (outcome.status === 'ok') {
      collected += 1;
      for (const key of outcome.rawKeys) rawKeys.add(key);
    } else if (outcome.status === 'unchanged') unchanged += 1;
    else failed += 1;
  }

  const parseByKey = new Map(parses.map((parse) => [parse.rawKey, parse]));
  let parsed = 0;
  let quarantined = 0;
  const unparsedKeys: string[] = [];
  for (const key of rawKeys) {
    const parse = parseByKey.get(key);
    if (!parse) unparsedKeys.push(key);
    else if (parse.status === 'ok') parsed += 1;
    else quarantined += 1;
  }

  const runState = manifest?.status ?? 'unknown';
  const complete =
    manifest !== undefined &&
    (runState === 'failed' || (pendingSourceIds.length === 0 && unparsedKeys.length === 0));
  return {
    runId,
    runState,
    complete,
    sources: planned.length + (manifest?.invalidSources.length ?? 0),
    collected,
    unchanged,
    failed,
    pending: pendingSourceIds.length,
    rawObjects: rawKeys.size,
    parsed,
    quarantined,
    unparsed: unparsedKeys.length,
    batches: manifest?.batches.length ?? 0,
    failedBatches: new Set(failures.map((failure) => failure.batchId ?? failure.recordedAt)).size,
    pendingSourceIds,
    unparsedKeys,
  };
}
