import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalS3Client, type LocalS3 } from '../../src/index.js';
import { startQuietS3, tempHome } from '../helpers/server.js';

/** A reader racing overwrites of one key sees one version at a time: bytes and metadata together. */
const BUCKET = 'fanout-consistency';
let home: string;
let s3: LocalS3;

beforeAll(async () => {
  home = await tempHome('consistency');
  s3 = await startQuietS3(home, BUCKET);
});

afterAll(async () => {
  await s3.stop();
  await rm(home, { recursive: true, force: true });
});

function digest(algorithm: 'md5' | 'sha256', body: Uint8Array): string {
  return createHash(algorithm).update(body).digest('hex');
}

describe('reads racing overwrites of the same key', () => {
  it('never pairs one version’s bytes with another version’s metadata', async () => {
    // Prepare
    const client = createLocalS3Client(s3.endpoint);
    const key = 'race/manifest.json';
    const bodyOf = (version: number) =>
      Buffer.alloc(1 + ((version * 104_729) % 300_000), version % 251);
    const put = (version: number) => {
      const body = bodyOf(version);
      return client.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: key,
          Body: body,
          ContentType: `application/x-version-${version}`,
          Metadata: { version: String(version), sha256: digest('sha256', body) },
        }),
      );
    };
    await put(0);
    let writing = true;
    const mismatches: string[] = [];
    let reads = 0;

    // Act: three writers overwrite the key while three readers GET, HEAD and LIST it.
    const writers = [0, 1, 2].map(async (w) => {
      for (let i = 1; i <= 25; i += 1) await put(w * 100 + i);
    });
    const readers = [0, 1, 2].map(async () => {
      while (writing) {
        const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        const body = (await got.Body?.transformToByteArray()) ?? new Uint8Array();
        const version = got.Metadata?.version;
        if (got.Metadata?.sha256 !== digest('sha256', body))
          mismatches.push(`GET body v${version}`);
        if (got.ETag !== `"${digest('md5', body)}"`) mismatches.push(`GET etag v${version}`);
        if (got.ContentType !== `application/x-version-${version}`) {
          mismatches.push(`GET content-type v${version}`);
        }
        const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
        const headVersion = Number(head.Metadata?.version);
        if (head.ContentLength !== bodyOf(headVersion).length)
          mismatches.push(`HEAD v${headVersion}`);
        const listed = await client.send(
          new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'race/' }),
        );
        if (listed.KeyCount !== 1) mismatches.push(`LIST saw ${listed.KeyCount} keys`);
        reads += 1;
      }
    });
    await Promise.all(writers);
    writing = false;
    await Promise.all(readers);

    // Assess
    client.destroy();
    expect(reads).toBeGreaterThan(0);
    expect(mismatches).toEqual([]);
  });
});
