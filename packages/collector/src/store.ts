import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  isS3ConditionalConflict,
  isS3KeyExists,
  isS3NotFound,
  type PackHeader,
  type RawObjectMetadata,
  readPackHeader,
  toS3Metadata,
} from '@fanout/shared';
import type { BufferedBody } from './body.js';
import { StoreError } from './errors.js';
import type { SleepFn } from './fetch-source.js';
import type { FinishedPack } from './pack.js';
import type { RobotsStore } from './robots.js';

/** S3's minimum multipart part size; larger bodies are sent in parts of this size. */
const PART_SIZE_BYTES = 5 * 1024 * 1024;
/** Parts in flight per upload; each holds one part in memory. */
const UPLOAD_QUEUE_SIZE = 2;

export interface StoreTarget {
  readonly s3: S3Client;
  readonly bucket: string;
}

/**
 * Streams `params.Body` to `params.Key`: one PutObject under one part, else a multipart
 * upload in parts of PART_SIZE_BYTES, UPLOAD_QUEUE_SIZE in flight, aborted on failure.
 */
async function uploadStream(
  target: StoreTarget,
  params: Omit<PutObjectCommandInput, 'Bucket'> & { readonly Key: string },
): Promise<void> {
  // lib-storage is imported by the first body this large, not at the cold start: a hop's
  // pack under one part is one PutObject without it (see the README, "Cold start").
  const { Upload } = await import('@aws-sdk/lib-storage');
  const upload = new Upload({
    client: target.s3,
    queueSize: UPLOAD_QUEUE_SIZE,
    partSize: PART_SIZE_BYTES,
    leavePartsOnError: false,
    params: { ...params, Bucket: target.bucket },
  });
  await upload.done();
}

/** Streams one page to its raw key; multipart for bodies past one part. */
export async function storeRawPage(
  target: StoreTarget,
  key: string,
  body: BufferedBody,
  contentType: string | undefined,
  metadata: RawObjectMetadata,
): Promise<void> {
  try {
    await uploadStream(target, {
      Key: key,
      Body: body.open(),
      ContentType: contentType ?? 'application/octet-stream',
      Metadata: toS3Metadata(metadata),
    });
  } catch (error) {
    throw new StoreError(key, error);
  }
}

/** What writing a hop's pack found: it was stored, or the hop already had one. */
export type PackWrite = { readonly stored: true } | { readonly stored: false };

/** Waits before writing again after S3 answered 409 (a concurrent conditional write). */
const CONFLICT_RETRY_MS = [200, 1_000, 3_000] as const;

/**
 * Uploads a hop's pack, only if the hop has none yet (`IfNoneMatch: '*'`): a hop's pack
 * is its one record, and the first invocation to store it wins. Under one part it is ONE
 * PutObject from memory (each multipart request is billed as a PUT, so a small pack must
 * not be split); larger packs stream from memory or their spool file in parts, the
 * condition checked when the upload completes. A 409 (another write of the key in flight)
 * is retried after a pause until it resolves into stored or exists.
 */
export async function storePack(
  target: StoreTarget & { readonly sleep: SleepFn },
  pack: FinishedPack,
): Promise<PackWrite> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await putPackIfAbsent(target, pack);
      return { stored: true };
    } catch (error) {
      if (isS3KeyExists(error)) return { stored: false };
      const wait = CONFLICT_RETRY_MS[attempt];
      if (!isS3ConditionalConflict(error) || wait === undefined) {
        throw new StoreError(pack.key, error);
      }
      await target.sleep(wait, new AbortController().signal);
    }
  }
}

async function putPackIfAbsent(target: StoreTarget, pack: FinishedPack): Promise<void> {
  const params = { Key: pack.key, ContentType: 'application/gzip', IfNoneMatch: '*' };
  if (pack.bytes < PART_SIZE_BYTES) {
    await target.s3.send(
      new PutObjectCommand({ ...params, Bucket: target.bucket, Body: await pack.toBuffer() }),
    );
    return;
  }
  await uploadStream(target, { ...params, Body: pack.open() });
}

/** The header of the pack stored at `key` (its first line only), or undefined when there is none. */
export async function readStoredPackHeader(
  target: StoreTarget,
  key: string,
  maxLineBytes: number,
): Promise<PackHeader | undefined> {
  let body: Readable;
  try {
    const response = await target.s3.send(
      new GetObjectCommand({ Bucket: target.bucket, Key: key }),
    );
    if (!response.Body) return undefined;
    body = response.Body as Readable;
  } catch (error) {
    if (isS3NotFound(error)) return undefined;
    throw new StoreError(key, error, 'read');
  }
  try {
    return await readPackHeader(body, maxLineBytes);
  } catch (error) {
    throw new StoreError(key, error, 'read');
  } finally {
    body.destroy();
  }
}

/** Whether an object is stored at `key` (a HEAD). */
export async function objectExists(target: StoreTarget, key: string): Promise<boolean> {
  try {
    await target.s3.send(new HeadObjectCommand({ Bucket: target.bucket, Key: key }));
    return true;
  } catch (error) {
    if (isS3NotFound(error)) return false;
    throw new StoreError(key, error, 'read');
  }
}

/** Writes a small JSON record (batch result, failure record). */
export async function putJson(target: StoreTarget, key: string, value: unknown): Promise<void> {
  try {
    await target.s3.send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: key,
        Body: JSON.stringify(value, null, 2),
        ContentType: 'application/json',
      }),
    );
  } catch (error) {
    throw new StoreError(key, error);
  }
}

/**
 * Where the bytes of a download cut by the hard deadline wait for the next hop. Only
 * such downloads use it, so a run without one makes no request here.
 */
export interface PartialStore {
  /** Stores the temp file at `path` under `key` (multipart past one part). */
  save(key: string, path: string): Promise<void>;
  /** The stored bytes, streamed. */
  load(key: string): AsyncIterable<Uint8Array>;
  /** Removes them (best effort: a lifecycle rule or the run's cleanup may do it too). */
  remove(key: string): Promise<void>;
  /** The keys stored under `prefix`. */
  keys(prefix: string): Promise<string[]>;
}

export function s3PartialStore(target: StoreTarget): PartialStore {
  return {
    save: async (key, path) => {
      try {
        await uploadStream(target, {
          Key: key,
          Body: createReadStream(path),
          ContentType: 'application/octet-stream',
        });
      } catch (error) {
        throw new StoreError(key, error);
      }
    },
    load: (key) =>
      (async function* () {
        const response = await target.s3.send(
          new GetObjectCommand({ Bucket: target.bucket, Key: key }),
        );
        if (!response.Body) return;
        yield* response.Body as Readable;
      })(),
    remove: async (key) => {
      await target.s3.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: key }));
    },
    keys: async (prefix) => {
      const keys: string[] = [];
      const pages = paginateListObjectsV2(
        { client: target.s3 },
        { Bucket: target.bucket, Prefix: prefix },
      );
      for await (const page of pages) {
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      }
      return keys;
    },
  };
}

/** The run's robots.txt files (`runs/<run>/robots/`): read by key, written once. */
export function s3RobotsStore(target: StoreTarget): RobotsStore {
  return {
    get: async (key) => {
      try {
        const response = await target.s3.send(
          new GetObjectCommand({ Bucket: target.bucket, Key: key }),
        );
        return response.Body ? await response.Body.transformToString('utf8') : undefined;
      } catch (error) {
        if (isS3NotFound(error)) return undefined;
        throw new StoreError(key, error);
      }
    },
    putIfAbsent: async (key, text) => {
      try {
        await target.s3.send(
          new PutObjectCommand({
            Bucket: target.bucket,
            Key: key,
            Body: text,
            ContentType: 'application/json',
            IfNoneMatch: '*',
          }),
        );
        return true;
      } catch (error) {
        if (isS3KeyExists(error) || isS3ConditionalConflict(error)) return false;
        throw new StoreError(key, error);
      }
    },
  };
}
