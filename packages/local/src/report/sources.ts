import { finalOutcomes, type RunRecords, WINDOWS_1252_FALLBACK } from '@fanout/shared';
import type { Problem } from '../commands/problems.js';

/** One row of the report's source table. */
export interface SourceRow {
  readonly sourceId: string;
  readonly outcome: 'ok' | 'unchanged' | 'failed' | 'pending';
  /** What became of its pages: parsed, quarantined (one or more pages), waiting, or none stored. */
  readonly parse: 'parsed' | 'quarantined' | 'waiting' | '-';
  /** Where its final outcome was recorded (`b00000-h1`). */
  readonly hop?: string;
  readonly durationMs?: number;
  readonly bytes?: number;
  readonly attempts?: number;
  readonly reason?: string;
  /** Worth knowing about a source that did not fail: its pages were decoded as windows-1252. */
  readonly note?: string;
}

const PAGE_NAME = /^(.+)-p\d{4,}$/;

/** Sources with a page read by the windows-1252 fallback, from the parse outcomes. */
function decodedAsWindows1252(records: RunRecords): Set<string> {
  const sources = new Set<string>();
  for (const raw of records.rawOutcomes.values()) {
    if (raw.status !== 'parsed') continue;
    for (const page of raw.outcome.windows1252Pages ?? []) {
      const sourceId = PAGE_NAME.exec(page)?.[1];
      if (sourceId !== undefined) sources.add(sourceId);
    }
  }
  return sources;
}

const ORDER: Record<string, number> = { failed: 0, quarantined: 1, pending: 2 };

function rank(row: SourceRow): number {
  if (row.outcome === 'failed') return ORDER.failed ?? 0;
  if (row.parse === 'quarantined') return ORDER.quarantined ?? 1;
  if (row.outcome === 'pending') return ORDER.pending ?? 2;
  return 3;
}

/**
 * Every source of the run with its final outcome, failures first, then quarantined
 * pages, then pending sources, then the rest by id. Reasons come from `problems`
 * (failed tasks, quarantine reports), so the table says what `fanout status` says.
 */
export function sourceRows(records: RunRecords, problems: readonly Problem[]): SourceRow[] {
  const outcomes = finalOutcomes(records.results);
  const hopOf = new Map<string, string>();
  for (const result of records.results) {
    for (const outcome of result.outcomes) {
      if (outcomes.get(outcome.sourceId) === outcome) {
        hopOf.set(outcome.sourceId, `${result.batchId}-h${result.hop}`);
      }
    }
  }
  const reasons = new Map<string, string>();
  const quarantined = new Set<string>();
  for (const problem of problems) {
    if (problem.sourceId === undefined) continue;
    if (problem.kind === 'quarantined') quarantined.add(problem.sourceId);
    if (problem.reason && !reasons.has(problem.sourceId)) {
      reasons.set(problem.sourceId, problem.reason);
    }
  }
  const fellBack = decodedAsWindows1252(records);
  const rows: SourceRow[] = [];
  for (const invalid of records.manifest?.invalidSources ?? []) {
    const sourceId = invalid.id ?? `sources[${invalid.index}]`;
    rows.push({
      sourceId,
      outcome: 'failed',
      parse: '-',
      reason: reasons.get(sourceId) ?? invalid.errors.join('; '),
    });
  }
  for (const sourceId of records.manifest?.batches.flatMap((batch) => batch.sourceIds) ?? []) {
    const outcome = outcomes.get(sourceId);
    const hop = hopOf.get(sourceId);
    const reason = reasons.get(sourceId);
    if (!outcome) {
      rows.push({
        sourceId,
        outcome: reason ? 'failed' : 'pending',
        parse: '-',
        ...(reason ? { reason } : {}),
      });
      continue;
    }
    let parse: SourceRow['parse'] = '-';
    if (outcome.status === 'ok') {
      const waiting = outcome.rawKeys.some((key) => !records.rawOutcomes.has(key));
      parse = quarantined.has(sourceId) ? 'quarantined' : waiting ? 'waiting' : 'parsed';
    }
    rows.push({
      sourceId,
      outcome: outcome.status,
      parse,
      ...(hop ? { hop } : {}),
      durationMs: outcome.durationMs,
      ...(outcome.status === 'ok' ? { bytes: outcome.bytes } : {}),
      attempts: outcome.attempts,
      ...(reason ? { reason } : {}),
      ...(fellBack.has(sourceId) ? { note: WINDOWS_1252_FALLBACK } : {}),
    });
  }
  return rows.sort(
    (a, b) => rank(a) - rank(b) || (a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0),
  );
}
