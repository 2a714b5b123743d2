import { S3Client } from '@aws-sdk/client-s3';
import { startLocalS3 } from '@fanout/local-s3';
import { topology } from '@fanout/shared';
import { LOCAL_BUCKET, LOCAL_CREDENTIALS, LOCAL_REGION } from '../config.js';

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
    const s3 = new S3Client({
      endpoint: values.endpoint,
      region: values.region ?? LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
    });
    return {
      s3,
      bucket: values.bucket ?? LOCAL_BUCKET,
      local: true,
      close: async () => s3.destroy(),
    };
  }
  if (values.bucket) {
    const s3 = new S3Client(values.region ? { region: values.region } : {});
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
