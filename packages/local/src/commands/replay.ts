import { computeRunStatus } from '@fanout/shared';
import { UsageError } from '../errors.js';
import { replayRun } from '../replay.js';
import { parseCommandArgs } from './args.js';
import { openWorkTarget, TARGET_OPTIONS } from './cloud-target.js';
import { EXIT, problemLines, problemsOf } from './problems.js';
import type { Io } from './run.js';
import { table } from './summary.js';

/**
 * `fanout replay [runId]`: re-deliver the dead letters and the failed work of a run,
 * minus what is done. Against the local cloud it waits for the work and exits 0 when
 * the run is complete, 3 while it is still incomplete, 4 when the run failed. Against
 * AWS the work runs on its own: 3 until `fanout status` finds the run complete.
 */
export async function replayCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'replay',
    argv,
    { ...TARGET_OPTIONS, pending: { type: 'boolean' }, json: { type: 'boolean' } },
    1,
  );
  const target = await openWorkTarget(values);
  try {
    if (!target.deadLetters) {
      io.stderr.write(
        'Dead letters in AWS are in the SQS queue (stack output dlqUrl); this replays the run records.\n',
      );
    }
    const runId = positionals[0] ?? (await target.reader.latestRunId());
    if (!runId) {
      throw new UsageError(
        `no runs in bucket ${target.bucket}`,
        'run a cycle first: npx -y pnpm@10.34.9 fanout run',
      );
    }
    const report = await replayRun(runId, {
      reader: target.reader,
      bucket: target.bucket,
      invoke: target.invoke,
      functions: target.functions,
      includePending: values.pending === true,
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
          ['failed tasks re-sent', report.tasksRetried],
          ['objects re-parsed', report.objectsReparsed],
        ])}\n`,
      );
      for (const line of report.skipped) io.stdout.write(`skipped: ${line}\n`);
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
    if (status.runState === 'failed') return EXIT.runFailed;
    return status.complete ? EXIT.clean : EXIT.incomplete;
  } finally {
    await target.close();
  }
}
