import type { RunStatus } from '@fanout/shared';
import { fanoutHome } from '../config.js';
import { UsageError } from '../errors.js';
import { latestRuns } from '../report/run-data.js';
import { RunRecordReader } from '../run-records.js';
import { intOption, parseCommandArgs } from './args.js';
import { openBucket, READ_OPTIONS } from './bucket.js';
import type { Io } from './run.js';

export const RUNS_OPTIONS = {
  ...READ_OPTIONS,
  limit: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const DEFAULT_LIMIT = 20;

/** One line of `fanout runs`: a run and the counts `fanout status` gives it. */
export interface RunListing {
  readonly runId: string;
  readonly scheduledAt: string;
  /** complete, incomplete, or failed (the run manifest says so). */
  readonly state: 'complete' | 'incomplete' | 'failed';
  readonly sources: number;
  readonly collected: number;
  readonly unchanged: number;
  readonly failed: number;
  readonly quarantined: number;
  readonly pending: number;
}

function listing(scheduledAt: string, status: RunStatus): RunListing {
  return {
    runId: status.runId,
    scheduledAt,
    state: status.runState === 'failed' ? 'failed' : status.complete ? 'complete' : 'incomplete',
    sources: status.sources,
    collected: status.collected,
    unchanged: status.unchanged,
    failed: status.failed,
    quarantined: status.quarantined,
    pending: status.pending,
  };
}

const COLUMNS: readonly (keyof RunListing)[] = [
  'runId',
  'scheduledAt',
  'state',
  'sources',
  'collected',
  'unchanged',
  'failed',
  'quarantined',
  'pending',
];
const HEADINGS: Record<string, string> = { runId: 'run', scheduledAt: 'scheduled' };
/** Columns from here on are counts, aligned right. */
const FIRST_COUNT = COLUMNS.indexOf('sources');

/** Left-aligned text columns, right-aligned numbers, two spaces apart. */
function listingTable(rows: readonly RunListing[]): string {
  const cells = [
    COLUMNS.map((column) => HEADINGS[column] ?? column),
    ...rows.map((row) => COLUMNS.map((column) => String(row[column]))),
  ];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((line) => line[i]?.length ?? 0)));
  return cells
    .map((line) =>
      line
        .map((cell, i) =>
          i >= FIRST_COUNT ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * `fanout runs`: the latest runs of a bucket by time (the last 20, `--limit N`), newest
 * first, each with its state and the counts of `fanout status`. Exits 0 once listed, with
 * or without runs.
 */
export async function runsCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('runs', argv, RUNS_OPTIONS);
  const limit = intOption('limit', values.limit, DEFAULT_LIMIT);
  if (limit < 1) throw new UsageError('--limit must be at least 1');
  const target = await openBucket(values, fanoutHome());
  try {
    const reader = new RunRecordReader(target.s3, target.bucket);
    const rows: RunListing[] = [];
    for (const manifest of await latestRuns(reader, limit)) {
      rows.push(listing(manifest.scheduledAt, await reader.status(manifest.runId)));
    }
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ bucket: target.bucket, runs: rows })}\n`);
      return 0;
    }
    if (rows.length === 0) {
      io.stdout.write(
        `No runs in bucket ${target.bucket} yet${target.local ? ' (run a cycle: npx -y pnpm@10.34.9 fanout run)' : ''}\n`,
      );
      return 0;
    }
    io.stdout.write(
      `Runs in bucket ${target.bucket}, newest first (the latest ${limit} at most: --limit N)\n${listingTable(rows)}\nOne run in full: fanout status <run>, fanout report <run>\n`,
    );
    return 0;
  } finally {
    await target.close();
  }
}
