import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { PREFIXES } from '@fanout/shared';
import { LocalCloudError } from '../errors.js';

/** A copy of a bucket's parsed objects on this machine, kept up to date object by object. */
export interface RecordsCache {
  /** The folder holding `parsed/dt=…/…ndjson.gz` exactly as stored in the bucket. */
  readonly dir: string;
  readonly objects: number;
  readonly downloaded: number;
  readonly removed: number;
}

/** What the cache holds: each object's ETag, to download only what changed. */
interface CacheIndex {
  readonly etags: Record<string, string>;
}

const INDEX_FILE = 'index.json';
const PARSED_SUFFIX = '.ndjson.gz';

/**
 * The folder of one bucket's cache under `home`: `local` (the local data), `aws` (a bucket
 * in AWS) or a short hash of the endpoint URL, so two stores' buckets never share a cache.
 */
export function cacheDirFor(
  home: string,
  bucket: string,
  where: 'local' | 'aws' | { readonly endpoint: string },
): string {
  const label =
    typeof where === 'string'
      ? where
      : createHash('sha256').update(where.endpoint).digest('hex').slice(0, 8);
  return join(home, 'query-cache', `${bucket.replace(/[^A-Za-z0-9._-]/g, '_')}-${label}`);
}

async function readIndex(dir: string): Promise<CacheIndex> {
  try {
    const index = JSON.parse(await readFile(join(dir, INDEX_FILE), 'utf8')) as Partial<CacheIndex>;
    return { etags: index.etags ?? {} };
  } catch {
    return { etags: {} };
  }
}

/** The file of a key in the cache; a key that would leave the folder is refused. */
function fileFor(dir: string, key: string): string {
  const file = resolve(dir, key);
  if (!file.startsWith(`${resolve(dir)}${sep}`) || relative(dir, file).startsWith('..')) {
    throw new LocalCloudError(`object key ${JSON.stringify(key)} cannot be cached as a file`);
  }
  return file;
}

/**
 * Brings the cache of `bucket` up to date through the S3 API: lists `parsed/`, downloads the
 * objects that are new or changed (by ETag), deletes the files of objects that are gone. The
 * files are the objects' bytes as stored (gzip NDJSON), so anything that reads the bucket's
 * layout reads the cache.
 */
export async function syncRecordsCache(
  s3: S3Client,
  bucket: string,
  dir: string,
): Promise<RecordsCache> {
  await mkdir(dir, { recursive: true });
  const before = await readIndex(dir);
  const etags: Record<string, string> = {};
  let downloaded = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: PREFIXES.parsed,
        ContinuationToken: token,
      }),
    );
    for (const object of page.Contents ?? []) {
      const key = object.Key;
      if (key === undefined || !key.endsWith(PARSED_SUFFIX)) continue;
      const etag = object.ETag ?? `${object.Size}-${object.LastModified?.toISOString()}`;
      etags[key] = etag;
      if (before.etags[key] === etag) continue;
      await download(s3, bucket, key, fileFor(dir, key));
      downloaded += 1;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  let removed = 0;
  for (const key of Object.keys(before.etags)) {
    if (etags[key] !== undefined) continue;
    await rm(fileFor(dir, key), { force: true });
    removed += 1;
  }
  await writeFile(join(dir, INDEX_FILE), `${JSON.stringify({ etags } satisfies CacheIndex)}\n`);
  return { dir, objects: Object.keys(etags).length, downloaded, removed };
}

async function download(s3: S3Client, bucket: string, key: string, file: string): Promise<void> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = response.Body;
  if (!(body instanceof Readable)) {
    throw new LocalCloudError(`GetObject returned no readable body for ${JSON.stringify(key)}`);
  }
  await mkdir(dirname(file), { recursive: true });
  // Written aside and renamed: an interrupted download never leaves a half file in the cache.
  const partial = `${file}.partial`;
  await pipeline(body, createWriteStream(partial));
  await rename(partial, file);
}
