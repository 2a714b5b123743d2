import { computeRunStatus } from '@fanout/shared';
import { UsageError } from '../errors.js';
import { replayRun } from '../replay.js';
import { parseCommandArgs } from './args.js';
import { openWorkTarget, TARGET_OPTIONS } from './cloud-target.js';
import { exitCodeFor, problemLines, problemsOf } from './problems.js';
import type { Io } from './run.js';
import { table } from './summary.js';

/**
 * `fanout replay [runId]`: re-deliver the dead letters and the failed work of a run,
 * minus what is done (and minus permanent failures, unless `--include-failed`). Against
 * the local cloud it waits for the work. Exit codes as `status`'s: 0 complete and clean,
 * 1 complete with failed or quarantined sources, 3 incomplete (against AWS or a running
 * `fanout start` the work runs on its own: 3 until `fanout status` finds it complete),
 * 4 the run failed, 2 a usage error.
 */
export async function replayCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'replay',
    argv,
    {
      ...TARGET_OPTIONS,
      pending: { type: 'boolean' },
      'include-failed': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    1,
  );
  const target = await openWorkTarget(values);
  try {
    const runId = positionals[0] ?? (await target.reader.latestRunId());
    if (!runId) {
      throw new UsageError(
        `no runs in bucket ${target.bucket}`,
        'run a cycle first: npx -y pnpm@10.34.9 fanout run',
      );
    }
    if (!target.deadLetters) {
      io.stderr.write(
        values.endpoint
          ? `Dead letters of the cloud at ${values.endpoint} are in its data folder (dead-letters/); this replays the run records.\n`
          : 'Dead letters in AWS are in the SQS queue (stack output dlqUrl); this replays the run records.\n',
      );
    }
    const report = await replayRun(runId, {
      reader: target.reader,
      writer: target.writer,
      bucket: target.bucket,
      invoke: target.invoke,
      functions: target.functions,
      includePending: values.pending === true,
      includeFailed: values['include-failed'] === true,
      ...(target.deadLetters ? { deadLetters: target.deadLetters } : {}),
      ...(target.cloud ? { settle: () => target.settle() } : {}),
    });
    const records = await target.reader.records(runId);
    const status = computeRunStatus(runId, records);
    if (status.runState === 'unknown') {
      throw new UsageError(
        `run ${runId} not found in bucket ${target.bucket}`,
        'the latest run: fanout status',
      );
    }
    const problems = await problemsOf(runId, records, target.reader);
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify({ ...report, complete: status.complete, status, problems: problems.shown })}\n`,
      );
    } else {
      io.stdout.write(
        `Replayed run ${runId}\n${table([
          ['dead letters re-delivered', report.deadLettersRedelivered],
          ['dead letters already done', report.deadLettersDropped],
          ['batches re-delivered', report.batchesRedelivered],
          ['tasks re-sent', report.tasksRetried],
          ['permanent failures kept', report.permanentFailures.length],
          ['objects re-parsed', report.objectsReparsed],
        ])}\n`,
      );
      for (const line of report.skipped) io.stdout.write(`skipped: ${line}\n`);
      for (const line of report.permanentFailures) io.stdout.write(`not re-sent: ${line}\n`);
      const state = status.complete
        ? 'complete'
        : target.cloud
          ? 'still incomplete'
          : 'not complete yet (the work runs in AWS: follow it with `fanout status`)';
      io.stdout.write(
        `Run ${runId} is ${state}: ${status.collected} collected, ${status.unchanged} unchanged, ${status.failed} failed, ${status.pending} pending, ${status.parsed} pages parsed, ${status.quarantined} quarantined, ${status.unparsed} waiting\n`,
      );
      io.stdout.write(problemLines(runId, target.bucket, problems));
    }
    return exitCodeFor(status);
  } finally {
    await target.close();
  }
}
