import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLocalS3Client,
  LOCAL_S3_CREDENTIALS,
  type LocalS3,
  rawS3Request,
} from '../../src/index.js';
import { startQuietS3, tempHome } from '../helpers/server.js';

/**
 * Keys are opaque: no key, through any operation that takes one, and no path sent
 * raw, may name a file outside the data folder. The data folder sits two levels
 * inside a scratch folder, and every key climbs out by one to six levels with a
 * marker name; afterwards every file under the scratch folder is under `home/s3`,
 * and /tmp holds no file with the marker.
 */
const BUCKET = 'traversal';
const MARKER = `escape-${randomBytes(4).toString('hex')}`;
let outer: string;
let home: string;
let s3: LocalS3;
let client: S3Client;

const climbs = [1, 2, 3, 4, 5, 6].flatMap((n) => {
  const up = '../'.repeat(n);
  return [`${up}${MARKER}`, `a/${up}${MARKER}`, `./${up}${MARKER}`, `//${up}${MARKER}`];
});

beforeAll(async () => {
  outer = await tempHome('traversal');
  home = join(outer, 'home');
  await mkdir(home);
  s3 = await startQuietS3(home, BUCKET);
  client = createLocalS3Client(s3.endpoint);
});

afterAll(async () => {
  client.destroy();
  await s3.stop();
  await rm(outer, { recursive: true, force: true });
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function settle(promise: Promise<unknown>): Promise<void> {
  await promise.catch(() => undefined);
}

describe('no key reaches outside the data folder', () => {
  it('through every operation that takes a key, and through raw paths', async () => {
    for (const key of climbs) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(await got.Body?.transformToString()).toBe(key);
      await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      const copyTarget = `copy/${key}`;
      await client.send(
        new CopyObjectCommand({
          Bucket: BUCKET,
          Key: copyTarget,
          CopySource: `${BUCKET}/${encodeURIComponent(key)}`,
        }),
      );
      const upload = await client.send(
        new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }),
      );
      const UploadId = upload.UploadId ?? '';
      const part = await client.send(
        new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: 'p' }),
      );
      await client.send(
        new UploadPartCopyCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId,
          PartNumber: 2,
          CopySource: `${BUCKET}/${encodeURIComponent(key)}`,
        }),
      );
      await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId }));
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag ?? '' }] },
        }),
      );
      const second = await client.send(
        new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }),
      );
      await client.send(
        new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: second.UploadId }),
      );
    }
    // Raw paths as curl --path-as-is sends them, signed and unsigned, and hostile ids and buckets.
    for (const path of [
      `/${BUCKET}/../../../../${MARKER}`,
      `/${BUCKET}/%2E%2E/%2E%2E/%2E%2E/${MARKER}`,
      `/../../${MARKER}`,
      `/..%2F..%2F${MARKER}/x`,
      `/${BUCKET}/x?uploadId=../../../${MARKER}&partNumber=1`,
    ]) {
      await rawS3Request(s3.endpoint, s3.region, { method: 'PUT', path, body: 'raw' });
      await settle(
        rawS3Request(s3.endpoint, s3.region, {
          method: 'PUT',
          path,
          body: 'raw',
          sign: LOCAL_S3_CREDENTIALS,
        }),
      );
      await settle(
        rawS3Request(s3.endpoint, s3.region, {
          method: 'DELETE',
          path,
          sign: LOCAL_S3_CREDENTIALS,
        }),
      );
    }
    // Every key is still there as itself; deletes take them away as themselves.
    for (const key of climbs) {
      await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `copy/${key}` }));
    }
    await client.send(
      new DeleteObjectsCommand({
        Bucket: BUCKET,
        Delete: { Objects: climbs.map((Key) => ({ Key })) },
      }),
    );

    const files = await filesUnder(outer);
    const outside = files.filter((file) => relative(join(home, 's3'), file).startsWith('..'));
    expect(outside).toEqual([]);
    const tmpFiles = await readdir(tmpdir());
    expect(tmpFiles.filter((name) => name.includes(MARKER))).toEqual([]);
    expect(
      files.filter((file) => file.includes(MARKER) && file.endsWith('._S3rver_object')),
    ).toEqual([]);
  });
});
