import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { type LambdaContext, systemClock } from '@fanout/shared';
import { loadConfig } from './config.js';
import { type HandleResult, handleManagerEvent } from './handle.js';
import type { ManagerDeps } from './run.js';

// Built once per execution environment. Endpoints, region, credentials and
// checksum mode come from the standard AWS_* environment, so this bundle runs
// unchanged in AWS and against local servers.
const config = loadConfig();
const logger = new Logger();
const metrics = new Metrics();
const deps: ManagerDeps = {
  config,
  store: { s3: new S3Client({}), bucket: config.bucket },
  // Dispatch owns the retry policy (backoff, attempts, failure records), so the
  // SDK makes one attempt per call instead of retrying underneath it.
  lambda: new LambdaClient({ maxAttempts: 1 }),
  log: logger,
  clock: systemClock,
  sleep: (ms) => sleep(ms),
  random: Math.random,
};

export async function handler(event: unknown, context: LambdaContext): Promise<HandleResult> {
  logger.appendKeys({ requestId: context.awsRequestId, functionName: context.functionName });
  try {
    const result = await handleManagerEvent(event, context, deps);
    if (result.outcome === 'invalid') {
      metrics.addMetric('InvalidEvents', MetricUnit.Count, 1);
    } else if ('redrive' in result) {
      metrics.addMetric(
        result.outcome === 'hop-redriven' ? 'HopsRedriven' : 'HopsFailed',
        MetricUnit.Count,
        1,
      );
    } else {
      metrics.addMetric(
        'BatchesPlanned',
        MetricUnit.Count,
        result.outcome === 'part' ? 0 : result.batches,
      );
      metrics.addMetric('Tasks', MetricUnit.Count, result.tasks);
      metrics.addMetric('SourcesNotDue', MetricUnit.Count, result.notDue);
      metrics.addMetric('BatchesDispatched', MetricUnit.Count, result.dispatched);
      metrics.addMetric('DispatchFailures', MetricUnit.Count, result.failed);
      metrics.addMetric('InvalidSources', MetricUnit.Count, result.invalidSources);
      metrics.addMetric('DispatchParts', MetricUnit.Count, result.parts);
      metrics.addMetric('BatchesRedispatched', MetricUnit.Count, result.redispatched);
      metrics.addMetric(
        result.outcome === 'duplicate' ? 'DuplicateRuns' : 'Runs',
        MetricUnit.Count,
        1,
      );
    }
    logger.info('manager done', { ...result });
    return result;
  } finally {
    metrics.publishStoredMetrics();
    logger.resetKeys();
  }
}
