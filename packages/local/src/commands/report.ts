import { writeFile } from 'node:fs/promises';
import { computeRunStatus } from '@fanout/shared';
import { fanoutHome } from '../config.js';
import { UsageError } from '../errors.js';
import { monthlyEstimate, runsPerMonth } from '../report/cost-model.js';
import { reportHtml } from '../report/html.js';
import { loadRun, scheduleOption } from '../report/load.js';
import { RunRecordReader } from '../run-records.js';
import { parseCommandArgs, runIdArgument } from './args.js';
import { openBucket, READ_OPTIONS } from './bucket.js';
import { runProblems, withReasons } from './problems.js';
import type { Io } from './run.js';

export const REPORT_OPTIONS = {
  ...READ_OPTIONS,
  out: { type: 'string' },
  schedule: { type: 'string' },
} as const;

/** Reasons are read from quarantine reports for at most this many problems. */
const REASONS_READ = 200;

/**
 * `fanout report [runId]`: one self-contained HTML file about a run (timeline, totals,
 * estimated cost, sources), from its records in S3 alone. Exits 0 once it is written.
 */
export async function reportCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('report', argv, REPORT_OPTIONS, 1);
  const asked = runIdArgument(positionals[0]);
  const schedule = scheduleOption(values.schedule);
  const target = await openBucket(values, fanoutHome());
  try {
    const reader = new RunRecordReader(target.s3, target.bucket);
    const runId = asked ?? (await reader.latestRunId());
    if (!runId) {
      throw new UsageError(
        `no runs in bucket ${target.bucket}`,
        target.local ? 'run a cycle first: pnpm fanout run' : 'wait for the first scheduled run',
      );
    }
    const { records, usage } = await loadRun(reader, runId);
    const all = runProblems(runId, records);
    const problems = [
      ...(await withReasons(all.slice(0, REASONS_READ), reader)),
      ...all.slice(REASONS_READ),
    ];
    const scheduledAt = new Date(records.manifest?.scheduledAt ?? Date.now());
    const html = reportHtml({
      runId,
      bucket: target.bucket,
      records,
      status: computeRunStatus(runId, records),
      problems,
      estimate: monthlyEstimate([usage], runsPerMonth(schedule, scheduledAt)),
      schedule: schedule.expression,
      generatedAt: new Date().toISOString(),
    });
    const out = values.out ?? `fanout-report-${runId}.html`;
    await writeFile(out, html);
    io.stdout.write(`Wrote ${out} (run ${runId}, ${Math.round(html.length / 1024)} KB)\n`);
    return 0;
  } finally {
    await target.close();
  }
}
