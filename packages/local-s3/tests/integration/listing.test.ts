import { rm } from 'node:fs/promises';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalS3Client, type LocalS3 } from '../../src/index.js';
import { startQuietS3, tempHome } from '../helpers/server.js';

describe('listing past one page (continuation tokens)', () => {
  let home: string;
  let server: LocalS3;
  let s3: { client: S3Client; bucket: string };
  beforeAll(async () => {
    home = await tempHome('listing');
    server = await startQuietS3(home, 'fanout-listing');
    s3 = { client: createLocalS3Client(server.endpoint), bucket: server.bucket };
  });
  afterAll(async () => {
    s3.client.destroy();
    await server.stop();
    await rm(home, { recursive: true, force: true });
  });

  it('pages through 1,050 keys with ListObjectsV2 continuation tokens', async () => {
    // Prepare: more keys than one page (1,000) holds.
    const keys = Array.from(
      { length: 1050 },
      (_, i) => `runs/r/parses/k${String(i).padStart(4, '0')}.json`,
    );
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys
          .slice(i, i + 50)
          .map((Key) =>
            s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: '{}' })),
          ),
      );
    }

    // Act: follow NextContinuationToken as any SDK user does.
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.client.send(
        new ListObjectsV2Command({
          Bucket: s3.bucket,
          Prefix: 'runs/r/',
          ContinuationToken: token,
        }),
      );
      pages += 1;
      for (const item of page.Contents ?? []) if (item.Key) seen.push(item.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);

    // Assess
    expect(pages).toBe(2);
    expect(seen).toEqual(keys);
  });
});
