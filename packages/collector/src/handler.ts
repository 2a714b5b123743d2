import { tmpdir } from 'node:os';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { type LambdaContext, type Log, systemClock } from '@fanout/shared';
import { loadConfig } from './config.js';
import { lambdaContinuationInvoker } from './continuation.js';
import { nodeHttpTransport } from './http.js';
import { type HandlerOutcome, handleCollectorEvent, realSleep } from './run.js';
import { lazySecretStore, SecretResolver } from './secrets.js';
import { systemLookup } from './ssrf.js';

// Built once per execution environment; endpoints, region and credentials come
// from the standard AWS environment variables.
const config = loadConfig();
const s3 = new S3Client({});
const lambda = new LambdaClient({});
const logger = new Logger();
const metrics = new Metrics();
// Errors travel as attributes (`{ error }`), a form Powertools' Logger takes as is.
const log: Log = logger;
const invokeContinuation = lambdaContinuationInvoker(lambda, config.collectorFunction);
// The cache lives as long as the execution environment, across invocations.
const secrets = new SecretResolver({
  // The SSM and Secrets Manager clients are imported and built when a source of this
  // environment first references a secret: most batches reference none, and the two clients
  // were 92 KB of the 661 KB a cold start loaded (see the README, "Cold start").
  store: lazySecretStore(async () => {
    const { awsSecretStore, SSMClient, SecretsManagerClient } = await import(
      './aws-secret-store.js'
    );
    return awsSecretStore(new SSMClient({}), new SecretsManagerClient({}));
  }),
  ttlMs: config.settings.secretsTtlMs,
  clock: systemClock,
});

function field(event: unknown, name: string): unknown {
  return typeof event === 'object' && event !== null
    ? (event as Record<string, unknown>)[name]
    : undefined;
}

export async function handler(event: unknown, context: LambdaContext): Promise<HandlerOutcome> {
  logger.addContext(context as Parameters<Logger['addContext']>[0]);
  logger.appendKeys({
    runId: field(event, 'runId'),
    batchId: field(event, 'batchId'),
    hop: field(event, 'hop'),
  });
  try {
    const outcome = await handleCollectorEvent(event, {
      s3,
      bucket: config.bucket,
      invokeContinuation,
      transport: nodeHttpTransport,
      lookup: systemLookup,
      clock: systemClock,
      context,
      log,
      sleep: realSleep,
      random: Math.random,
      tmpDir: tmpdir(),
      settings: config.settings,
      secrets,
    });
    if (outcome.kind === 'invalid') {
      metrics.addMetric('InvalidPayloads', MetricUnit.Count, 1);
    } else {
      const { summary } = outcome;
      metrics.addMetric('TasksOk', MetricUnit.Count, summary.ok);
      metrics.addMetric('TasksUnchanged', MetricUnit.Count, summary.unchanged);
      metrics.addMetric('TasksFailed', MetricUnit.Count, summary.failed);
      metrics.addMetric('BytesStored', MetricUnit.Bytes, summary.bytesStored);
      metrics.addMetric('TasksContinued', MetricUnit.Count, summary.continued);
      metrics.addMetric('PackEntries', MetricUnit.Count, summary.packEntries);
    }
    return outcome;
  } finally {
    metrics.publishStoredMetrics();
    logger.resetKeys();
  }
}
