import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { isS3ConditionalConflict, isS3KeyExists, isS3NotFound } from '@fanout/shared';
import { StorageError } from './errors.js';

/** The bucket the manager works in, and the client to reach it. */
export interface BucketRef {
  readonly s3: S3Client;
  readonly bucket: string;
}

/** 412: the key exists (IfNoneMatch). 409: a concurrent conditional write to it is in flight. */
function isConditionalConflict(error: unknown): boolean {
  return isS3KeyExists(error) || isS3ConditionalConflict(error);
}

/** The object's text, or undefined when there is no such key. Other failures throw StorageError. */
export async function getText(ref: BucketRef, key: string): Promise<string | undefined> {
  try {
    const out = await ref.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: key }));
    if (!out.Body) return '';
    return await out.Body.transformToString('utf8');
  } catch (error) {
    if (isS3NotFound(error)) return undefined;
    throw new StorageError(key, 'GetObject', error);
  }
}

function putJsonCommand(ref: BucketRef, key: string, value: unknown, ifAbsent: boolean) {
  return new PutObjectCommand({
    Bucket: ref.bucket,
    Key: key,
    Body: JSON.stringify(value),
    ContentType: 'application/json',
    ...(ifAbsent ? { IfNoneMatch: '*' } : {}),
  });
}

export async function putJson(ref: BucketRef, key: string, value: unknown): Promise<void> {
  try {
    await ref.s3.send(putJsonCommand(ref, key, value, false));
  } catch (error) {
    throw new StorageError(key, 'PutObject', error);
  }
}

/**
 * Writes only when the key does not exist yet (`If-None-Match: *`), so of two
 * concurrent deliveries of one event exactly one wins. Returns false when the
 * key already existed. (s3rver ignores the header and always writes.)
 */
export async function putJsonIfAbsent(
  ref: BucketRef,
  key: string,
  value: unknown,
): Promise<boolean> {
  try {
    await ref.s3.send(putJsonCommand(ref, key, value, true));
    return true;
  } catch (error) {
    if (isConditionalConflict(error)) return false;
    throw new StorageError(key, 'PutObject', error);
  }
}

/**
 * The object's body as a stream, or undefined when there is no such key. The caller
 * reads what it needs (a pack's header line) and destroys the stream.
 */
export async function getStream(ref: BucketRef, key: string): Promise<Readable | undefined> {
  try {
    const out = await ref.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: key }));
    if (!out.Body) return Readable.from([]);
    return out.Body as Readable;
  } catch (error) {
    if (isS3NotFound(error)) return undefined;
    throw new StorageError(key, 'GetObject', error);
  }
}

/** Every key under `prefix`, one ListObjectsV2 page (up to 1,000 keys, PUT-class) at a time. */
export async function listKeys(ref: BucketRef, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await ref.s3.send(
        new ListObjectsV2Command({ Bucket: ref.bucket, Prefix: prefix, ContinuationToken: token }),
      );
    } catch (error) {
      throw new StorageError(prefix, 'ListObjectsV2', error);
    }
    for (const item of page.Contents ?? []) if (item.Key) keys.push(item.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/**
 * The names one level below `prefix` (`runs/` -> run ids), in key order, from the first
 * after `startAfter` (a full key). One ListObjectsV2 page per 1,000 names.
 */
export async function listFolders(
  ref: BucketRef,
  prefix: string,
  startAfter?: string,
): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await ref.s3.send(
        new ListObjectsV2Command({
          Bucket: ref.bucket,
          Prefix: prefix,
          Delimiter: '/',
          ContinuationToken: token,
          ...(startAfter !== undefined && token === undefined ? { StartAfter: startAfter } : {}),
        }),
      );
    } catch (error) {
      throw new StorageError(prefix, 'ListObjectsV2', error);
    }
    for (const folder of page.CommonPrefixes ?? []) {
      const name = folder.Prefix?.slice(prefix.length, -1);
      if (name) names.push(name);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return names;
}

/** Whether the key exists: one HeadObject, a GET-class request that reads no body. */
/** The object's user metadata (one HEAD), or undefined when there is no such key. */
export async function metadataOf(
  ref: BucketRef,
  key: string,
): Promise<Record<string, string> | undefined> {
  try {
    const head = await ref.s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: key }));
    return head.Metadata ?? {};
  } catch (error) {
    if (isS3NotFound(error)) return undefined;
    throw new StorageError(key, 'HeadObject', error);
  }
}

export async function exists(ref: BucketRef, key: string): Promise<boolean> {
  try {
    await ref.s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: key }));
    return true;
  } catch (error) {
    if (isS3NotFound(error)) return false;
    throw new StorageError(key, 'HeadObject', error);
  }
}
