import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalS3Client } from '../../src/index.js';
import { recoverStore } from '../../src/recovery.js';
import { startQuietS3, tempHome } from '../helpers/server.js';

/** A store folder as a killed process can leave it, written by hand in s3rver's layout. */
const BUCKET = 'fanout-recovery';
let home: string;
let bucketDir: string;

beforeEach(async () => {
  home = await tempHome('recovery');
  bucketDir = join(home, 's3', BUCKET);
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function file(relativePath: string, content: string): Promise<void> {
  const path = join(bucketDir, relativePath);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

function record(key: string, commit: string, body: string): string {
  return JSON.stringify({
    'content-type': 'application/json',
    'x-amz-meta-version': commit,
    '@local-s3': { commit, md5: md5(body), size: Buffer.byteLength(body), key },
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

/** Writes every state a write or delete cut by kill -9 can leave, plus two sound objects. */
async function handMadeFolder(): Promise<void> {
  // Sound: an object written by s3rver itself (no commit record), and one by this store.
  await file('good/legacy.json._S3rver_object', '{"legacy":true}');
  await file('good/legacy.json._S3rver_object.md5', md5('{"legacy":true}'));
  await file('good/legacy.json._S3rver_metadata.json', '{"content-type":"application/json"}');
  await file('good/new.json._S3rver_object', '{"v":"a1"}');
  await file('good/new.json._S3rver_metadata.json', record('good/new.json', 'a1', '{"v":"a1"}'));
  // Torn: a 0-byte metadata file, an object without metadata, metadata without its object,
  // an object shorter than its metadata says.
  await file('torn/zero.json._S3rver_object', '{"zero":true}');
  await file('torn/zero.json._S3rver_metadata.json', '');
  await file('torn/no-metadata.json._S3rver_object', '{"alone":true}');
  await file('torn/no-object.json._S3rver_metadata.json', record('torn/no-object.json', 'b2', 'x'));
  await file('torn/short.json._S3rver_object', '{"cut');
  await file('torn/short.json._S3rver_metadata.json', record('torn/short.json', 'c3', '{"cut":1}'));
  // Killed between the two renames of an overwrite: new metadata, old object, new object partial.
  await file('rolled/over.json._S3rver_object', '{"v":"old"}');
  await file(
    'rolled/over.json._S3rver_metadata.json',
    record('rolled/over.json', 'd4', '{"v":"new"}'),
  );
  await file('rolled/over.json._S3rver_object.d4.partial', '{"v":"new"}');
  // Killed while writing: partials only (one in a folder that holds nothing else).
  await file('good/new.json._S3rver_object.e5.partial', '{"v":"e5, cut sho');
  await file('good/new.json._S3rver_metadata.json.e5.partial', '');
  await file('deep/only/partials/x.json._S3rver_object.f6.partial', 'xx');
}

describe('recovery of a store folder after kill -9', () => {
  it('removes torn pairs and temp files, finishes a write cut between its renames, keeps sound objects', async () => {
    // Prepare
    await handMadeFolder();

    // Act
    const report = await recoverStore(join(home, 's3'));

    // Assess: on disk, only whole pairs remain.
    expect(await filesUnder(bucketDir)).toEqual([
      'good/legacy.json._S3rver_metadata.json',
      'good/legacy.json._S3rver_object',
      'good/legacy.json._S3rver_object.md5',
      'good/new.json._S3rver_metadata.json',
      'good/new.json._S3rver_object',
      'rolled/over.json._S3rver_metadata.json',
      'rolled/over.json._S3rver_object',
    ]);
    expect(await readFile(join(bucketDir, 'rolled/over.json._S3rver_object'), 'utf8')).toBe(
      '{"v":"new"}',
    );
    expect(await readdir(bucketDir)).not.toContain('deep');
    expect(report.completed).toEqual([`${BUCKET}/rolled/over.json._S3rver_object`]);
    expect([...report.removedTorn].sort()).toEqual(
      [
        'torn/no-metadata.json._S3rver_object',
        'torn/no-object.json._S3rver_metadata.json',
        'torn/short.json._S3rver_metadata.json',
        'torn/short.json._S3rver_object',
        'torn/zero.json._S3rver_metadata.json',
        'torn/zero.json._S3rver_object',
      ].map((path) => `${BUCKET}/${path}`),
    );
    expect(report.removedPartials).toHaveLength(3);
  });

  it('changes nothing in a sound folder', async () => {
    await file('a/b.json._S3rver_object', 'b');
    await file('a/b.json._S3rver_metadata.json', record('a/b.json', 'g7', 'b'));

    const report = await recoverStore(join(home, 's3'));

    expect(report).toEqual({ completed: [], removedTorn: [], removedPartials: [] });
    expect(await filesUnder(bucketDir)).toEqual([
      'a/b.json._S3rver_metadata.json',
      'a/b.json._S3rver_object',
    ]);
  });

  it('serves the repaired folder: LIST and HEAD answer, every listed object reads back whole', async () => {
    // Prepare
    await handMadeFolder();

    // Act
    const s3 = await startQuietS3(home, BUCKET);
    const client = createLocalS3Client(s3.endpoint);
    try {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      const torn = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'torn/' }));
      const bodies: Record<string, string> = {};
      for (const item of listed.Contents ?? []) {
        const key = item.Key ?? '';
        const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        bodies[key] = (await got.Body?.transformToString('utf8')) ?? '';
        expect(got.ETag).toBe(`"${md5(bodies[key])}"`);
        expect(got.ContentType).toBe('application/json');
      }
      const headOfTorn = await client
        .send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'torn/zero.json' }))
        .catch((error: unknown) => error);

      // Assess
      expect(s3.recovery.completed).toHaveLength(1);
      expect(bodies).toEqual({
        'good/legacy.json': '{"legacy":true}',
        'good/new.json': '{"v":"a1"}',
        'rolled/over.json': '{"v":"new"}',
      });
      expect(torn.KeyCount).toBe(0);
      expect(headOfTorn).toBeInstanceOf(S3ServiceException);
      expect((headOfTorn as S3ServiceException).$metadata.httpStatusCode).toBe(404);
      const head = await client.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: 'rolled/over.json' }),
      );
      expect(head.Metadata).toEqual({ version: 'd4' });
    } finally {
      client.destroy();
      await s3.stop();
    }
  });
});
