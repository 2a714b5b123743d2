import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** What s3rver's FilesystemStore hands to `putObject` (lib/models/object.js). */
interface StoredObject {
  readonly bucket: string;
  readonly key: string;
  readonly content: Buffer | NodeJS.ReadableStream;
  readonly metadata: Record<string, string>;
}

/** The parts of s3rver's FilesystemStore (3.7) that an atomic `putObject` needs. */
interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, string>,
    md5: string,
  ): Promise<void>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
}

/**
 * s3rver writes an object's file in place and answers (and emits the created
 * event) before the file is flushed, so a GET that races a PUT of the same key
 * (a duplicate delivery rewriting it, or the parser reacting to the event) can
 * read an empty or cut-off body. S3 never shows a partial object. This writes
 * to a temporary file beside it (not listed: it lacks s3rver's `._S3rver_object`
 * suffix) and renames it into place once complete, so readers see the old
 * object or the new one, and the event follows the finished write.
 */
export function makeObjectWritesAtomic(s3rver: unknown): void {
  const store = (s3rver as { store?: FilesystemStore }).store;
  if (!store || typeof store.getResourcePath !== 'function') {
    throw new Error('s3rver has no filesystem store to patch (s3rver version changed?)');
  }
  store.putObject = async (object) => {
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    const partial = `${objectPath}.${randomBytes(6).toString('hex')}.partial`;
    const md5 = createHash('md5');
    let size = 0;
    const content = Buffer.isBuffer(object.content)
      ? Readable.from([object.content])
      : object.content;
    try {
      await pipeline(
        content,
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            md5.update(chunk);
            size += chunk.length;
            callback(null, chunk);
          },
        }),
        createWriteStream(partial),
      );
      await rename(partial, objectPath);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    const digest = md5.digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  };
}
