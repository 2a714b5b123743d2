import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type RawObjectMetadata, toS3Metadata } from '@fanout/shared';
import type { BufferedBody } from './body.js';
import { StoreError } from './errors.js';
import type { FinishedPack } from './pack.js';

/** S3's minimum multipart part size; larger bodies are sent in parts of this size. */
const PART_SIZE_BYTES = 5 * 1024 * 1024;
/** Parts in flight per upload; each holds one part in memory. */
const UPLOAD_QUEUE_SIZE = 2;

export interface StoreTarget {
  readonly s3: S3Client;
  readonly bucket: string;
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
    const upload = new Upload({
      client: target.s3,
      queueSize: UPLOAD_QUEUE_SIZE,
      partSize: PART_SIZE_BYTES,
      leavePartsOnError: false,
      params: {
        Bucket: target.bucket,
        Key: key,
        Body: body.open(),
        ContentType: contentType ?? 'application/octet-stream',
        Metadata: toS3Metadata(metadata),
      },
    });
    await upload.done();
  } catch (error) {
    throw new StoreError(key, error);
  }
}

/**
 * Uploads a hop's pack. Under one part it is ONE PutObject from memory (each multipart
 * request is billed as a PUT, so a small pack must not be split); larger packs stream
 * from memory or their spool file in parts.
 */
export async function storePack(target: StoreTarget, pack: FinishedPack): Promise<void> {
  const params = {
    Bucket: target.bucket,
    Key: pack.key,
    ContentType: 'application/gzip',
  };
  try {
    if (pack.bytes < PART_SIZE_BYTES) {
      await target.s3.send(new PutObjectCommand({ ...params, Body: await pack.toBuffer() }));
      return;
    }
    const upload = new Upload({
      client: target.s3,
      queueSize: UPLOAD_QUEUE_SIZE,
      partSize: PART_SIZE_BYTES,
      leavePartsOnError: false,
      params: { ...params, Body: pack.open() },
    });
    await upload.done();
  } catch (error) {
    throw new StoreError(pack.key, error);
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
}

export function s3PartialStore(target: StoreTarget): PartialStore {
  return {
    save: async (key, path) => {
      try {
        const upload = new Upload({
          client: target.s3,
          queueSize: UPLOAD_QUEUE_SIZE,
          partSize: PART_SIZE_BYTES,
          leavePartsOnError: false,
          params: {
            Bucket: target.bucket,
            Key: key,
            Body: createReadStream(path),
            ContentType: 'application/octet-stream',
          },
        });
        await upload.done();
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
  };
}
