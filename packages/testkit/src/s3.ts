import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createLocalS3Client, LOCAL_S3_CREDENTIALS, startLocalS3 } from '@fanout/local-s3';
import { topology } from '@fanout/shared';

export const LOCAL_CREDENTIALS = LOCAL_S3_CREDENTIALS;
export const LOCAL_REGION = 'us-east-1';

/** An S3 client for a local S3 server, with the SDK's default settings (as the functions run). */
export function localS3Client(endpoint: string): S3Client {
  return createLocalS3Client(endpoint, LOCAL_REGION);
}

export interface TestS3 {
  readonly endpoint: string;
  readonly bucket: string;
  readonly client: S3Client;
  /** Environment that points an unmodified SDK client at this server. */
  readonly env: Record<string, string>;
  putJson(key: string, value: unknown): Promise<void>;
  putText(key: string, body: string | Uint8Array, metadata?: Record<string, string>): Promise<void>;
  getBytes(key: string): Promise<Buffer>;
  getJson<T = unknown>(key: string): Promise<T>;
  head(key: string): Promise<{ metadata: Record<string, string>; size: number } | undefined>;
  listKeys(prefix?: string): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * Starts the real local S3 server (@fanout/local-s3) on a free loopback port with one
 * bucket. Its notifications go nowhere: tests that need them start the local cloud.
 */
export async function startTestS3(bucket = 'fanout-test'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'fanout-s3-'));
  const server = await startLocalS3({
    home: directory,
    bucket,
    region: LOCAL_REGION,
    notification: topology.notification,
    deliver: async () => {},
  });
  const endpoint = server.endpoint;
  const client = localS3Client(endpoint);

  const api: TestS3 = {
    endpoint,
    bucket,
    client,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    },
    async putJson(key, value) {
      await api.putText(key, JSON.stringify(value));
    },
    async putText(key, body, metadata) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ...(metadata ? { Metadata: metadata } : {}),
        }),
      );
    },
    async getBytes(key) {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!out.Body) throw new Error(`no body for ${key}`);
      return Buffer.from(await out.Body.transformToByteArray());
    },
    async getJson<T>(key: string) {
      return JSON.parse((await api.getBytes(key)).toString('utf8')) as T;
    },
    async head(key) {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { metadata: out.Metadata ?? {}, size: out.ContentLength ?? 0 };
      } catch (error) {
        if ((error as { name?: string }).name === 'NotFound') return undefined;
        throw error;
      }
    },
    async listKeys(prefix = '') {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const item of page.Contents ?? []) if (item.Key) keys.push(item.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
    async stop() {
      client.destroy();
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
  return api;
}
