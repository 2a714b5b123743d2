import { PRICE_TABLE } from '@fanout/shared';
import { fanoutHome } from '../config.js';
import { UsageError } from '../errors.js';
import {
  ESTIMATE_NOTES,
  monthlyEstimate,
  type RunUsage,
  runsPerMonth,
} from '../report/cost-model.js';
import { costText } from '../report/cost-text.js';
import { loadRun, scheduleOption } from '../report/load.js';
import { latestRuns } from '../report/run-data.js';
import { RunRecordReader } from '../run-records.js';
import { intOption, parseCommandArgs } from './args.js';
import { openBucket, READ_OPTIONS } from './bucket.js';
import type { Io } from './run.js';

const DEFAULT_RUNS = 6;

export const COST_OPTIONS = {
  ...READ_OPTIONS,
  runs: { type: 'string' },
  schedule: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * `fanout cost`: the monthly estimate for a stack from its recent runs' records (the
 * last 6 by time, `--runs N`), at the schedule's runs per month and prices.ts's prices.
 */
export async function costCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('cost', argv, COST_OPTIONS);
  const runs = intOption('runs', values.runs, DEFAULT_RUNS);
  if (runs < 1) throw new UsageError('--runs must be at least 1');
  const schedule = scheduleOption(values.schedule);
  const target = await openBucket(values, fanoutHome());
  try {
    const reader = new RunRecordReader(target.s3, target.bucket);
    const manifests = await latestRuns(reader, runs);
    const latest = manifests[0];
    if (!latest) {
      throw new UsageError(
        `no runs in bucket ${target.bucket}`,
        target.local ? 'run a cycle first: pnpm fanout run' : 'wait for the first scheduled run',
      );
    }
    const usages: RunUsage[] = [];
    for (const manifest of manifests) usages.push((await loadRun(reader, manifest.runId)).usage);
    const estimate = monthlyEstimate(usages, runsPerMonth(schedule, new Date(latest.scheduledAt)));
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify({ bucket: target.bucket, schedule: schedule.expression, ...estimate, assumptions: ESTIMATE_NOTES, prices: PRICE_TABLE })}\n`,
      );
    } else {
      io.stdout.write(costText(estimate, `bucket ${target.bucket}`, schedule.expression));
    }
    return 0;
  } finally {
    await target.close();
  }
}
