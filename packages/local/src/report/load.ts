import {
  parseScheduleExpression,
  type RunRecords,
  type Schedule,
  ScheduleExpressionError,
  topology,
} from '@fanout/shared';
import { UsageError } from '../errors.js';
import type { RunRecordReader } from '../run-records.js';
import { type RunUsage, runUsage } from './cost-model.js';
import { storedBytesOfRun } from './run-data.js';

/** `--schedule` or the topology's expression, parsed; a bad one is a usage error. */
export function scheduleOption(expression: string | undefined): Schedule {
  const text = expression ?? topology.schedule.expression;
  try {
    return parseScheduleExpression(text);
  } catch (error) {
    if (error instanceof ScheduleExpressionError) {
      throw new UsageError(`--schedule: ${error.message}`, 'e.g. --schedule "rate(10 minutes)"');
    }
    throw error;
  }
}

/** A run's records and what it used; a run without a manifest is a usage error. */
export async function loadRun(
  reader: RunRecordReader,
  runId: string,
): Promise<{ records: RunRecords; usage: RunUsage }> {
  const records = await reader.records(runId);
  if (!records.manifest) {
    throw new UsageError(
      `run ${runId} not found in bucket ${reader.bucket}`,
      'list the runs: fanout runs',
    );
  }
  const stored = await storedBytesOfRun(reader, runId, records);
  return { records, usage: runUsage(runId, records, stored) };
}
