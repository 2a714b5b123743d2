import { S3Client } from '@aws-sdk/client-s3';
import { startLocalS3 } from '@fanout/local-s3';
import { topology } from '@fanout/shared';
import { LOCAL_BUCKET, LOCAL_CREDENTIALS, LOCAL_REGION } from '../config.js';
import { UsageError } from '../errors.js';

export interface BucketTarget {
  readonly s3: S3Client;
  readonly bucket: string;
  /** True when reading the local cloud's data rather than a real bucket. */
  readonly local: boolean;
  /** The S3 endpoint given with `--endpoint`, if any. */
  readonly endpoint?: string;
  close(): Promise<void>;
}

export const BUCKET_OPTIONS = {
  bucket: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
} as const;

/** An S3 endpoint or bucket a command was pointed at cannot be used: named, with what to do. */
export class TargetUnreachableError extends UsageError {
  override name = 'TargetUnreachableError';
}

/** What a command was pointed at, for messages: `bucket x at endpoint y`, `bucket x in AWS`. */
function describeTarget(bucket: string, endpoint: string | undefined): string {
  return endpoint !== undefined
    ? `bucket ${bucket} at S3 endpoint ${endpoint}`
    : `bucket ${bucket}`;
}

function errorFacts(error: unknown): { name: string; message: string; status?: number } {
  const { name, message, $metadata } = error as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  return {
    name: name ?? 'Error',
    message: message ?? String(error),
    ...($metadata?.httpStatusCode !== undefined ? { status: $metadata.httpStatusCode } : {}),
  };
}

/**
 * Turns the failures that mean "this is not the place you meant" into one line naming
 * the endpoint and the bucket: no answer at all (connection refused, DNS), a missing
 * bucket, credentials refused. A missing key (404 NoSuchKey) passes through: readers
 * treat it as "not there yet".
 */
export function explainTargetErrors(s3: S3Client, bucket: string, endpoint?: string): void {
  const where = describeTarget(bucket, endpoint);
  s3.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const facts = errorFacts(error);
        if (facts.status === undefined) {
          throw new TargetUnreachableError(
            `cannot reach ${where}: ${facts.message}`,
            endpoint !== undefined
              ? 'is `fanout start` running? It prints its S3 endpoint; or leave out --endpoint to read the data folder'
              : 'check the network and the AWS region (--region)',
            { cause: error },
          );
        }
        if (facts.name === 'NoSuchBucket') {
          throw new TargetUnreachableError(
            `${where}: no such bucket`,
            endpoint !== undefined
              ? `the local cloud's bucket is ${LOCAL_BUCKET}`
              : 'the stack output bucketName names it',
            { cause: error },
          );
        }
        if (facts.status === 403 || facts.name === 'InvalidAccessKeyId') {
          throw new TargetUnreachableError(`${where}: access denied (${facts.name})`, undefined, {
            cause: error,
          });
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'fanoutExplainTargetErrors', priority: 'high' },
  );
}

/** The client for an S3-compatible endpoint (`fanout start`'s), with the local credentials. */
export function endpointS3Client(endpoint: string, region: string | undefined): S3Client {
  return new S3Client({
    endpoint,
    region: region ?? LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
  });
}

/**
 * Which bucket a command reads: `--bucket` alone is a real bucket in AWS (the
 * SDK's default credentials and region); `--endpoint` a running S3-compatible
 * server (such as `fanout start`); neither, the local cloud's data folder.
 */
export async function openBucket(
  values: { bucket?: string; endpoint?: string; region?: string },
  home: string,
): Promise<BucketTarget> {
  if (values.endpoint) {
    const s3 = endpointS3Client(values.endpoint, values.region);
    const bucket = values.bucket ?? LOCAL_BUCKET;
    explainTargetErrors(s3, bucket, values.endpoint);
    return { s3, bucket, local: true, endpoint: values.endpoint, close: async () => s3.destroy() };
  }
  if (values.bucket) {
    const s3 = new S3Client(values.region ? { region: values.region } : {});
    explainTargetErrors(s3, values.bucket);
    return { s3, bucket: values.bucket, local: false, close: async () => s3.destroy() };
  }
  const server = await startLocalS3({
    home,
    bucket: LOCAL_BUCKET,
    port: 0,
    region: LOCAL_REGION,
    notification: topology.notification,
    // Reading only: nothing is written, so nothing is delivered.
    deliver: async () => {},
  });
  return { s3: server.client, bucket: LOCAL_BUCKET, local: true, close: () => server.stop() };
}
