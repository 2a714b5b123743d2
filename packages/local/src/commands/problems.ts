import {
  batchFailureKey,
  check,
  failuresPrefix,
  finalOutcomes,
  followedLinks,
  PREFIXES,
  parseRawKey,
  QuarantineReportSchema,
  quarantineKeyForRaw,
  quarantineReportKeyForEntry,
  quarantineReportKeyForRaw,
  type RunRecords,
  type RunStatus,
  runManifestKey,
} from '@fanout/shared';
import type { RunRecordReader } from '../run-records.js';

/** A source that failed or a page that was quarantined, with where its details are. */
export interface Problem {
  readonly kind: 'failed' | 'quarantined';
  readonly sourceId?: string;
  /** The raw object (a pack or a single response) of a quarantined page. */
  readonly rawKey?: string;
  readonly page?: number;
  /** Why; for a quarantined pack entry it is in the report and read on demand. */
  readonly reason?: string;
  /** The S3 key that tells more (a failure record, a quarantine report). */
  readonly where?: string;
}

/** How many problems the human output lists before saying where the rest are. */
export const PROBLEMS_SHOWN = 10;

/** Exit codes of `run`, `status`, `replay` and `reparse` (usage errors exit 2). */
export const EXIT = {
  clean: 0,
  problems: 1,
  usage: 2,
  incomplete: 3,
  runFailed: 4,
} as const;

/** 0 complete and clean, 1 complete with failures or quarantines, 3 incomplete, 4 the run failed. */
export function exitCodeFor(
  status: Pick<RunStatus, 'runState' | 'complete' | 'failed' | 'quarantined'>,
): number {
  if (status.runState === 'failed') return EXIT.runFailed;
  if (!status.complete) return EXIT.incomplete;
  return status.failed > 0 || status.quarantined > 0 ? EXIT.problems : EXIT.clean;
}

const PAGE_NAME = /^(.+)-p(\d{4,})$/;

/**
 * Every failed source and quarantined page of a run, failures first, from the same
 * records `computeRunStatus` counts (so the list and the counts agree).
 */
export function runProblems(runId: string, records: RunRecords): Problem[] {
  const { manifest, results, failures, rawOutcomes } = records;
  const problems: Problem[] = [];
  for (const invalid of manifest?.invalidSources ?? []) {
    problems.push({
      kind: 'failed',
      sourceId: invalid.id ?? `sources[${invalid.index}]`,
      reason: `invalid manifest entry: ${invalid.errors[0] ?? 'did not validate'}`,
      where: runManifestKey(runId),
    });
  }
  const outcomes = finalOutcomes(results);
  const failureOf = new Map(
    failures.flatMap((failure) => failure.sourceIds.map((id) => [id, failure] as const)),
  );
  // Detail pages are the run's tasks too, from the hop records that found them.
  const tasks = [
    ...(manifest?.batches.flatMap((batch) => batch.sourceIds) ?? []),
    ...followedLinks(results).keys(),
  ];
  for (const sourceId of tasks) {
    const outcome = outcomes.get(sourceId);
    if (outcome?.status === 'failed') {
      problems.push({ kind: 'failed', sourceId, reason: outcome.reason });
      continue;
    }
    const failure = outcome ? undefined : failureOf.get(sourceId);
    if (failure) {
      problems.push({
        kind: 'failed',
        sourceId,
        reason: `${failure.kind}: ${failure.reason}`,
        where:
          failure.batchId === undefined
            ? failuresPrefix(runId)
            : batchFailureKey(runId, failure.batchId, failure.hop ?? 0),
      });
    }
  }
  for (const [rawKey, raw] of rawOutcomes) {
    if (raw.status === 'quarantined') {
      const single = parseRawKey(rawKey);
      problems.push({
        kind: 'quarantined',
        ...(single ? { sourceId: single.sourceId, page: single.page } : {}),
        rawKey,
        reason: raw.reason,
        where: quarantineReportKeyForRaw(rawKey),
      });
      continue;
    }
    const { quarantined, quarantinedPages } = raw.outcome;
    for (const name of quarantinedPages) {
      const match = PAGE_NAME.exec(name);
      const sourceId = match?.[1];
      const page = Number(match?.[2]);
      if (sourceId === undefined) continue;
      problems.push({
        kind: 'quarantined',
        sourceId,
        page,
        rawKey,
        where: quarantineReportKeyForEntry(rawKey, sourceId, page),
      });
    }
    const unnamed = quarantined - quarantinedPages.length;
    if (unnamed > 0) {
      problems.push({
        kind: 'quarantined',
        rawKey,
        reason: `${unnamed} more pages quarantined (their names did not fit the outcome)`,
        where: `${quarantineKeyForRaw(rawKey)}/`,
      });
    }
  }
  return problems;
}

/** The problems with their reasons read from the quarantine reports they point to. */
export async function withReasons(
  problems: readonly Problem[],
  reader: RunRecordReader,
): Promise<Problem[]> {
  return Promise.all(
    problems.map(async (problem) => {
      if (problem.reason !== undefined || !problem.where?.startsWith(PREFIXES.quarantine)) {
        return problem;
      }
      const text = await reader.getText(problem.where);
      const report = text === undefined ? undefined : check(QuarantineReportSchema, safeJson(text));
      return report?.ok ? { ...problem, reason: report.value.reason } : problem;
    }),
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The first problems (reasons read), for printing and for `--json`. */
export async function problemsOf(
  runId: string,
  records: RunRecords,
  reader: RunRecordReader,
): Promise<{ total: number; shown: Problem[]; all: Problem[] }> {
  const all = runProblems(runId, records);
  const shown = await withReasons(all.slice(0, PROBLEMS_SHOWN), reader);
  return { total: all.length, shown, all: [...shown, ...all.slice(PROBLEMS_SHOWN)] };
}

/** The human listing: the first ten, then where the rest are. */
export function problemLines(
  runId: string,
  bucket: string,
  problems: { total: number; shown: readonly Problem[] },
): string {
  if (problems.total === 0) return '';
  const lines = [`Failed and quarantined (${problems.total}):`];
  for (const problem of problems.shown) {
    const who = problem.sourceId ?? problem.rawKey ?? '?';
    const page = problem.page !== undefined && problem.page > 0 ? ` page ${problem.page}` : '';
    const where = problem.where ? `  (${problem.where})` : '';
    lines.push(
      `  ${problem.kind.padEnd(11)} ${who}${page}: ${problem.reason ?? 'see report'}${where}`,
    );
  }
  const rest = problems.total - problems.shown.length;
  if (rest > 0) {
    lines.push(
      `  ... and ${rest} more: \`fanout status ${runId} --json\` lists them all; ` +
        `failures in s3://${bucket}/${failuresPrefix(runId)} and the batch results, ` +
        `reports under s3://${bucket}/${PREFIXES.quarantine}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
