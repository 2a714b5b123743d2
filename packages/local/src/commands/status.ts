import { computeRunStatus } from '@fanout/shared';
import { fanoutHome } from '../config.js';
import { UsageError } from '../errors.js';
import { RunRecordReader } from '../run-records.js';
import { parseCommandArgs, runIdArgument } from './args.js';
import { openBucket, READ_OPTIONS } from './bucket.js';
import { exitCodeFor, problemLines, problemsOf } from './problems.js';
import type { Io } from './run.js';
import { detailPageRows, notDueRows, table } from './summary.js';

export const STATUS_OPTIONS = { ...READ_OPTIONS, json: { type: 'boolean' } } as const;

/**
 * `fanout status [runId]`: completeness and counts from the run's records in S3 alone.
 * Exits 0 complete and clean, 1 complete with failures or quarantines, 3 incomplete,
 * 4 the run failed.
 */
export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('status', argv, STATUS_OPTIONS, 1);
  const asked = runIdArgument(positionals[0]);
  const target = await openBucket(values, fanoutHome());
  try {
    const reader = new RunRecordReader(target.s3, target.bucket);
    const runId = asked ?? (await reader.latestRunId());
    if (!runId) {
      throw new UsageError(
        `no runs in bucket ${target.bucket}`,
        target.local
          ? 'run a cycle first: npx -y pnpm@10.34.9 fanout run'
          : 'wait for the first scheduled run',
      );
    }
    const records = await reader.records(runId);
    const status = computeRunStatus(runId, records);
    if (status.runState === 'unknown') {
      throw new UsageError(
        `run ${runId} not found in bucket ${target.bucket}`,
        'list the runs: fanout runs',
      );
    }
    const problems = await problemsOf(runId, records, reader);
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ ...status, problems: problems.all })}\n`);
    } else {
      io.stdout.write(
        `Run ${runId} (${status.runState}) ${status.complete ? 'complete' : 'incomplete'}\n${table([
          ['sources', status.sources],
          ...detailPageRows(status.detailTasks),
          ['batches', status.batches],
          ['collected', status.collected],
          ['unchanged', status.unchanged],
          ...notDueRows(status.notDue),
          ['failed', status.failed],
          ['pending', status.pending],
          ['raw objects', status.rawObjects],
          ['pages', status.pages],
          ['parsed', status.parsed],
          ['quarantined', status.quarantined],
          ['not parsed yet', status.unparsed],
          ['failed batches', status.failedBatches],
        ])}\n`,
      );
      if (status.pending > 0) {
        io.stdout.write(
          `pending: ${status.pendingSourceIds.slice(0, 10).join(', ')}${status.pending > 10 ? ', ...' : ''}\n`,
        );
      }
      io.stdout.write(problemLines(runId, target.bucket, problems));
    }
    return exitCodeFor(status);
  } finally {
    await target.close();
  }
}
