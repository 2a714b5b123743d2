import { readdir, readlink, rm } from 'node:fs/promises';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLocalS3Client,
  LOCAL_S3_CREDENTIALS,
  type LocalS3,
  rawS3Request,
} from '../../src/index.js';
import { startQuietS3, tempHome } from '../helpers/server.js';

/** Every read opens the object's file; 304, 412, HEAD and ranges must close it again. */
let home: string;
let s3: LocalS3;
let client: S3Client;

beforeAll(async () => {
  home = await tempHome('handles');
  s3 = await startQuietS3(home, 'handles');
  client = createLocalS3Client(s3.endpoint);
});

afterAll(async () => {
  client.destroy();
  await s3.stop();
  await rm(home, { recursive: true, force: true });
});

/** Files of the data folder this process holds open (Linux: /proc/self/fd). */
async function openDataFiles(): Promise<number> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(
    fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
  );
  return targets.filter((target) => target.startsWith(home)).length;
}

describe('file handles of reads', () => {
  it('are all closed after 40 conditional GETs (304 and 412), HEADs and ranged GETs', async () => {
    const put = await client.send(
      new PutObjectCommand({ Bucket: 'handles', Key: 'a/b.json', Body: '{"a":1}' }),
    );
    for (let i = 0; i < 40; i += 1) {
      const notModified = await rawS3Request(s3.endpoint, s3.region, {
        method: 'GET',
        path: '/handles/a/b.json',
        headers: { 'if-none-match': put.ETag ?? '' },
        sign: LOCAL_S3_CREDENTIALS,
      });
      expect(notModified.status).toBe(304);
      const failed = await rawS3Request(s3.endpoint, s3.region, {
        method: 'GET',
        path: '/handles/a/b.json',
        headers: { 'if-match': '"other"' },
        sign: LOCAL_S3_CREDENTIALS,
      });
      expect(failed.status).toBe(412);
      await client.send(new HeadObjectCommand({ Bucket: 'handles', Key: 'a/b.json' }));
      const ranged = await client.send(
        new GetObjectCommand({ Bucket: 'handles', Key: 'a/b.json', Range: 'bytes=0-1' }),
      );
      expect(await ranged.Body?.transformToString()).toBe('{"');
    }
    // A stream closes its handle as it ends: give the last ones a moment.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await openDataFiles()).toBe(0);
  });
});
