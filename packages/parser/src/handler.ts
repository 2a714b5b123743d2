import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import { type LambdaContext, type Log, systemClock } from '@fanout/shared';
import { loadConfig } from './config.js';
import { type EventSummary, handleS3Event, type ParserMetricName } from './event.js';

const config = loadConfig();
const logger = new Logger();
const metrics = new Metrics();
// Endpoint, region, credentials and checksum mode come from the environment,
// so this same bundle runs against AWS and against a local S3 server.
const s3 = new S3Client({});

const UNITS: Record<ParserMetricName, (typeof MetricUnit)[keyof typeof MetricUnit]> = {
  ObjectsParsed: MetricUnit.Count,
  ObjectsQuarantined: MetricUnit.Count,
  ObjectsMissing: MetricUnit.Count,
  PacksWithoutPages: MetricUnit.Count,
  ObjectsFailed: MetricUnit.Count,
  PagesParsed: MetricUnit.Count,
  PagesQuarantined: MetricUnit.Count,
  RecordsWritten: MetricUnit.Count,
  BytesIn: MetricUnit.Bytes,
  BytesOut: MetricUnit.Bytes,
  EventRecordsRejected: MetricUnit.Count,
  KeysIgnored: MetricUnit.Count,
};

// Errors travel as attributes (`{ error }`), a form Powertools' Logger takes as is.
const log: Log = logger;

/** S3 ObjectCreated on raw/ (packs and single responses) -> gzip NDJSON under parsed/ (see README). */
export async function handler(event: unknown, context: LambdaContext): Promise<EventSummary> {
  logger.appendKeys({ requestId: context.awsRequestId });
  try {
    return await handleS3Event(event, context, {
      s3,
      log,
      clock: systemClock,
      config,
      metrics: { add: (name, value) => metrics.addMetric(name, UNITS[name], value) },
    });
  } finally {
    metrics.publishStoredMetrics();
  }
}
