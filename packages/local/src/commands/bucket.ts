import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalS3 } from '@fanout/local-s3';
import { redactUrl, topology } from '@fanout/shared';
import { LOCAL_BUCKET, LOCAL_CREDENTIALS, LOCAL_REGION } from '../config.js';
import { BucketUnreachableError, UsageError } from '../errors.js';
import { assertPortFree } from '../ports.js';
import { intOption } from './args.js';

export interface BucketTarget {
  readonly s3: S3Client;
  readonly bucket: string;
  /** True when reading the local cloud's data rather than a real bucket. */
  readonly local: boolean;
  close(): Promise<void>;
}

export const BUCKET_OPTIONS = {
  bucket: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
} as const;

/** The options of the commands that read a bucket: where, and the local reader's S3 port. */
export const READ_OPTIONS = {
  ...BUCKET_OPTIONS,
  's3-port': { type: 'string' },
} as const;

interface BucketValues {
  bucket?: string;
  endpoint?: string;
  region?: string;
  's3-port'?: string;
}

/** The endpoint given, checked: an http(s) URL. */
function endpointOption(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new UsageError(
      `--endpoint must be an http(s) URL, got ${JSON.stringify(value)}`,
      'e.g. --endpoint http://127.0.0.1:4600 (a running `fanout start`)',
    );
  }
  return value;
}

/**
 * Which bucket a command reads: `--bucket` alone is a real bucket in AWS (the
 * SDK's default credentials and region); `--endpoint` a running S3-compatible
 * server (such as `fanout start`); neither, the local cloud's data folder, served
 * by an S3 server of its own (on `--s3-port`, default a free port). A bucket that
 * cannot be read is one line naming the endpoint and the bucket (BucketUnreachableError).
 */
export async function openBucket(values: BucketValues, home: string): Promise<BucketTarget> {
  if (values['s3-port'] !== undefined && (values.endpoint || values.bucket)) {
    throw new UsageError(
      '--s3-port is the port of the S3 server over the local data folder; it does not go with --endpoint or --bucket',
      'leave out --s3-port, or --endpoint and --bucket',
    );
  }
  if (values.endpoint) {
    const endpoint = endpointOption(values.endpoint);
    const s3 = new S3Client({
      endpoint,
      region: values.region ?? LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
    });
    const target = {
      s3,
      bucket: values.bucket ?? LOCAL_BUCKET,
      local: true,
      close: async () => s3.destroy(),
    };
    return await probed(target, redactUrl(endpoint));
  }
  if (values.bucket) {
    const s3 = new S3Client(values.region ? { region: values.region } : {});
    const target = { s3, bucket: values.bucket, local: false, close: async () => s3.destroy() };
    return await probed(target, `AWS (region ${await regionOf(s3)})`);
  }
  const port = intOption('s3-port', values['s3-port'], 0);
  if (port !== 0) await assertPortFree(port, '--s3-port');
  const server = await startLocalS3({
    home,
    bucket: LOCAL_BUCKET,
    port,
    region: LOCAL_REGION,
    notification: topology.notification,
    // Reading only: nothing is written, so nothing is delivered.
    deliver: async () => {},
  });
  return { s3: server.client, bucket: LOCAL_BUCKET, local: true, close: () => server.stop() };
}

async function regionOf(s3: S3Client): Promise<string> {
  try {
    return await s3.config.region();
  } catch {
    return 'not set';
  }
}

/** The target once a HeadBucket answered; else closed, and the reason as one line. */
async function probed(target: BucketTarget, where: string): Promise<BucketTarget> {
  try {
    await target.s3.send(new HeadBucketCommand({ Bucket: target.bucket }));
    return target;
  } catch (error) {
    await target.close();
    throw unreachable(error, target.bucket, where);
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** The network error code anywhere in an error (Node nests them in `cause` and `errors`). */
function networkCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 3) return undefined;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  for (const inner of [cause, ...(Array.isArray(errors) ? errors : [])]) {
    const found = networkCode(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function unreachable(error: unknown, bucket: string, where: string): BucketUnreachableError {
  const { name, message, $metadata } = error as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = $metadata?.httpStatusCode;
  const aws = where.startsWith('AWS');
  const code = networkCode(error);
  if (code) {
    return new BucketUnreachableError(
      `cannot reach ${where} to read bucket ${bucket}: ${code}`,
      aws
        ? 'check the network and --region'
        : 'start the local cloud there (npx -y pnpm@10.34.9 fanout start) or pass the right --endpoint',
      { cause: error },
    );
  }
  if (name === 'NotFound' || name === 'NoSuchBucket' || status === 404) {
    return new BucketUnreachableError(
      `bucket ${bucket} does not exist at ${where}`,
      aws
        ? 'check --bucket (the stack output bucketName) and --region'
        : `the local cloud's bucket is ${LOCAL_BUCKET}; leave out --bucket, or name one that exists there`,
      { cause: error },
    );
  }
  if (status === 301) {
    return new BucketUnreachableError(
      `bucket ${bucket} is not in ${where}`,
      'pass the --region it is in',
      { cause: error },
    );
  }
  if (name === 'CredentialsProviderError') {
    return new BucketUnreachableError(
      `no AWS credentials to read bucket ${bucket} at ${where}`,
      'set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or read the local data (no --bucket)',
      { cause: error },
    );
  }
  if (status === 403 || name === 'Forbidden' || name === 'AccessDenied') {
    return new BucketUnreachableError(
      `access to bucket ${bucket} at ${where} is denied (HTTP 403)`,
      'check the credentials and their s3:ListBucket and s3:GetObject grants',
      { cause: error },
    );
  }
  return new BucketUnreachableError(
    `cannot read bucket ${bucket} at ${where}: ${name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}${message ? `: ${message.split('\n')[0]}` : ''}`,
    aws ? 'check --bucket and --region' : 'check --endpoint and --bucket',
    { cause: error },
  );
}
