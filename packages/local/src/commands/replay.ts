import { UsageError } from '../errors.js';
import { replayRun } from '../replay.js';
import { parseCommandArgs } from './args.js';
import { openWorkTarget, TARGET_OPTIONS } from './cloud-target.js';
import type { Io } from './run.js';
import { table } from './summary.js';

/** `fanout replay [runId]`: re-deliver dead-lettered events and the failed work of a run. */
export async function replayCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'replay',
    argv,
    { ...TARGET_OPTIONS, pending: { type: 'boolean' }, json: { type: 'boolean' } },
    1,
  );
  const target = await openWorkTarget(values);
  try {
    let deadLetters = 0;
    if (target.cloud) {
      for (const letter of await target.cloud.lambda.deadLetters()) {
        await target.cloud.lambda.redeliverDeadLetter(letter.id);
        deadLetters += 1;
      }
    } else {
      io.stderr.write(
        'Dead letters in AWS are in the SQS queue (stack output dlqUrl); this replays the run records.\n',
      );
    }
    const runId = positionals[0] ?? (await target.reader.runIds())[0];
    if (!runId)
      throw new UsageError(
        `no runs in bucket ${target.bucket}`,
        'run a cycle first: pnpm fanout run',
      );
    // Dead letters first: their work may complete the run before anything is re-sent twice.
    await target.settle();
    const report = await replayRun(runId, {
      reader: target.reader,
      bucket: target.bucket,
      invoke: target.invoke,
      functions: target.functions,
      includePending: values.pending === true,
    });
    await target.settle();
    const status = await target.reader.status(runId);
    const result = {
      ...report,
      deadLettersRedelivered: deadLetters,
      complete: status.complete,
      status,
    };
    if (values.json) {
      io.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      io.stdout.write(
        `Replayed run ${runId}\n${table([
          ['dead letters re-delivered', deadLetters],
          ['batches re-delivered', report.batchesRedelivered],
          ['failed tasks re-sent', report.tasksRetried],
          ['objects re-parsed', report.objectsReparsed],
        ])}\n`,
      );
      for (const line of report.skipped) io.stdout.write(`skipped: ${line}\n`);
      if (target.cloud) {
        io.stdout.write(
          `Run ${runId} is now ${status.complete ? 'complete' : 'still incomplete'}: ${status.collected} collected, ${status.unchanged} unchanged, ${status.failed} failed, ${status.pending} pending, ${status.parsed} parsed, ${status.quarantined} quarantined\n`,
        );
      }
    }
    return 0;
  } finally {
    await target.close();
  }
}
