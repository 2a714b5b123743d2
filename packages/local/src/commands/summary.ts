import type { RunRecords, RunStatus } from '@fanout/shared';
import type { CycleResult } from '../session.js';
import type { Problem } from './problems.js';

/**
 * What `fanout run --json` prints: one object, stable field names. The counts are
 * the run status's (`fanout status --json` prints the same numbers); `parsed`,
 * `quarantined` and `unparsed` count pages (pack entries and single raw objects).
 */
export interface RunSummary {
  runId: string;
  complete: boolean;
  runState: RunStatus['runState'];
  sources: number;
  /** Detail pages the run's sources linked (`follow`): tasks of the run, counted below too. */
  detailPages: number;
  collected: number;
  unchanged: number;
  /** Sources whose cadence (`every`) was not due at the run's scheduled time. */
  notDue: number;
  failed: number;
  rawObjects: number;
  pages: number;
  parsed: number;
  quarantined: number;
  /** Records written by the run's parsed pages (from their parse outcomes). */
  records?: number;
  deadLettered: number;
  pending: number;
  unparsed: number;
  durationMs: number;
  /** Failed sources and quarantined pages, the first ten with their reasons. */
  problems: Problem[];
}

export function summarize(
  result: CycleResult,
  problems: Problem[] = [],
  records?: number,
): RunSummary {
  const { status } = result;
  return {
    runId: result.runId,
    complete: status.complete,
    runState: status.runState,
    sources: status.sources,
    detailPages: status.detailTasks,
    collected: status.collected,
    unchanged: status.unchanged,
    notDue: status.notDue,
    failed: status.failed,
    rawObjects: status.rawObjects,
    pages: status.pages,
    parsed: status.parsed,
    quarantined: status.quarantined,
    ...(records !== undefined ? { records } : {}),
    deadLettered: result.deadLettered,
    pending: status.pending,
    unparsed: status.unparsed,
    durationMs: result.durationMs,
    problems,
  };
}

/** Records written for a run: the sum of its parse outcomes' record counts. */
export function recordsWritten(records: RunRecords): number {
  let total = 0;
  for (const outcome of records.rawOutcomes.values()) {
    if (outcome.status === 'parsed') total += outcome.outcome.records;
  }
  return total;
}

/** A two-column table, labels left, numbers right. */
export function table(rows: [string, string | number][]): string {
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const valueWidth = Math.max(...rows.map(([, value]) => String(value).length));
  return rows
    .map(([label, value]) => `  ${label.padEnd(labelWidth)}  ${String(value).padStart(valueWidth)}`)
    .join('\n');
}

/** The `not due` row, shown only for a run that left sources out by their cadence. */
export function notDueRows(notDue: number): [string, number][] {
  return notDue > 0 ? [['not due', notDue]] : [];
}

/**
 * The `detail pages` row, shown only for a run whose sources followed links: those pages are
 * tasks too, so collected, unchanged, failed and pending count them with the sources.
 */
export function detailPageRows(detailPages: number): [string, number][] {
  return detailPages > 0 ? [['detail pages', detailPages]] : [];
}

export function summaryTable(summary: RunSummary): string {
  return table([
    ['sources', summary.sources],
    ...detailPageRows(summary.detailPages),
    ['collected', summary.collected],
    ['unchanged', summary.unchanged],
    ...notDueRows(summary.notDue),
    ['failed', summary.failed],
    ['parsed', summary.parsed],
    ['quarantined', summary.quarantined],
    ...(summary.records !== undefined
      ? ([['records', summary.records]] as [string, number][])
      : []),
    ['dead-lettered', summary.deadLettered],
    ['pending', summary.pending],
    ['duration', `${(summary.durationMs / 1000).toFixed(1)} s`],
  ]);
}
