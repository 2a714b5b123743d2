import { S3Client } from '@aws-sdk/client-s3';

/** The local S3's only credentials: requests must be SigV4-signed with them. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const DEFAULT_LOCAL_REGION = 'us-east-1';

/**
 * An S3 client for the local S3 server, with the SDK's default settings (checksums
 * included: aws-chunked uploads are decoded and checked). Path style, because the
 * endpoint is an IP address.
 */
export function createLocalS3Client(endpoint: string, region = DEFAULT_LOCAL_REGION): S3Client {
  return new S3Client({
    endpoint,
    region,
    credentials: LOCAL_S3_CREDENTIALS,
    forcePathStyle: true,
  });
}

/** Environment that points an unmodified SDK client (or the AWS CLI) at the local S3. */
export function localS3Environment(
  endpoint: string,
  region = DEFAULT_LOCAL_REGION,
): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
  };
}
