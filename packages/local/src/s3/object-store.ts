import { createHash, randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compareKeys, isHashedSegment, storedSegment } from './key-paths.js';
import {
  type ListObjectsOptions,
  type ListObjectsResult,
  S3rverError,
  S3rverFilesystemStore,
  type S3rverObject,
  S3rverObjectModel,
} from './s3rver-internals.js';

/** s3rver's file names: `<last key segment>._S3rver_<resource>`. */
export const OBJECT_SUFFIX = '._S3rver_object';
export const METADATA_SUFFIX = '._S3rver_metadata.json';
export const MD5_SUFFIX = '._S3rver_object.md5';
export const PARTIAL_SUFFIX = '.partial';
/** Where s3rver keeps multipart uploads, under the bucket folder. */
export const UPLOADS_DIRECTORY = '._S3rver_uploads';

/**
 * What this store adds to s3rver's metadata file. `commit` names the write: its
 * object bytes were written to `<object>.<commit>.partial` before the metadata
 * was renamed into place, so a restart can finish a write cut between its two
 * renames. `key` is the full key (a long segment's stored name does not hold it).
 */
export interface CommitRecord {
  readonly commit: string;
  readonly md5: string;
  readonly size: number;
  readonly key: string;
}

export const COMMIT_FIELD = '@local-s3';

/** Conditions of the request being served, evaluated when its write commits. */
export interface WriteConditions {
  /** `If-None-Match` of a PUT, COPY or CompleteMultipartUpload: `*` writes only if the key is absent. */
  readonly ifNoneMatch?: string;
}

export type StoredMetadata = Record<string, string | number>;

interface Committed {
  readonly metadata: StoredMetadata;
  readonly objectPath: string;
}

/** Runs critical sections one at a time per name. */
class KeyLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(name: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    const result = previous.then(section, section);
    const tail = result.catch(() => undefined);
    this.tails.set(name, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(name) === tail) this.tails.delete(name);
    }
  }
}

export function commitRecordOf(json: unknown): CommitRecord | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const record = (json as Record<string, unknown>)[COMMIT_FIELD];
  if (typeof record !== 'object' || record === null) return undefined;
  const { commit, md5, size, key } = record as Record<string, unknown>;
  if (
    typeof commit !== 'string' ||
    typeof md5 !== 'string' ||
    typeof size !== 'number' ||
    typeof key !== 'string'
  ) {
    return undefined;
  }
  return { commit, md5, size, key };
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

function notFound(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOENT: no such file, ${path}`), { code: 'ENOENT' });
}

/** The headers s3rver keeps with an object (as its own putMetadata picks them). */
function keptHeaders(metadata: Record<string, string | number>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') continue;
    if (S3rverObjectModel.ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-')) {
      kept[name] = value;
    }
  }
  return kept;
}

/**
 * s3rver's filesystem store (same folder layout, so existing data folders keep
 * working) with S3's guarantees where s3rver has none:
 *
 * - **Whole or absent.** A write streams the bytes to `<object>.<commit>.partial`
 *   and the metadata (with the commit id, MD5, size and key) to
 *   `<metadata>.<commit>.partial`, then renames the metadata, then the object.
 *   Readers take the key's lock for the moment they read the metadata and open
 *   the object, and the renames happen under the same lock, so no request sees
 *   a new metadata file beside an old object. After `kill -9`, `recoverStore`
 *   finishes a write cut between the renames (the object partial named in the
 *   metadata is complete) and removes everything else half-written.
 * - **Long keys.** A key segment over 200 bytes is stored under a shortened,
 *   hashed name (`key-paths.ts`); listings read such keys from the metadata.
 * - **Conditional writes.** `If-None-Match: *` is checked under the lock at the
 *   commit, so of two racing conditional writes exactly one wins.
 */
export class LocalObjectStore extends S3rverFilesystemStore {
  private readonly locks = new KeyLocks();

  constructor(
    rootDirectory: string,
    private readonly conditions: () => WriteConditions | undefined = () => undefined,
  ) {
    super(rootDirectory);
  }

  override getResourcePath(bucket: string, key = '', resource: string): string {
    const parts = S3rverFilesystemStore.encodeKeyPath(key).split('/').map(storedSegment);
    const last = parts.pop() ?? '';
    return join(this.rootDirectory, bucket, ...parts, `${last}._S3rver_${resource}`);
  }

  override async getMetadata(bucket: string, key: string): Promise<StoredMetadata> {
    return this.locked(bucket, key, async () => (await this.readCommitted(bucket, key)).metadata);
  }

  override async getObject(
    bucket: string,
    key: string,
    options?: { start?: number; end?: number },
  ): Promise<S3rverObject | null> {
    try {
      // Open the object under the lock: the open file keeps this version's bytes
      // even if a write renames a new version into place while they stream out.
      const { metadata, handle } = await this.locked(bucket, key, async () => {
        const committed = await this.readCommitted(bucket, key);
        return { metadata: committed.metadata, handle: await open(committed.objectPath, 'r') };
      });
      // From here on, s3rver's own range handling (lib/stores/filesystem.js).
      const lastByte = Math.max(0, Number(metadata['content-length']) - 1);
      const range = {
        start: options?.start || 0,
        end: Math.min(options?.end || Number.POSITIVE_INFINITY, lastByte),
      };
      const ranged = options !== undefined && (options.start !== undefined || !!options.end);
      if (range.start < 0 || Math.min(range.end, lastByte) < range.start) {
        await handle.close();
        const object = new S3rverObjectModel(bucket, key, null, metadata);
        if (ranged) object.range = range;
        return object;
      }
      const content = handle.createReadStream({ start: range.start, end: range.end });
      const object = new S3rverObjectModel(bucket, key, content, metadata);
      if (ranged) object.range = range;
      return object;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  override async putObject(object: S3rverObject): Promise<{ size: number; md5: string }> {
    const content =
      object.content === null
        ? Readable.from([])
        : Buffer.isBuffer(object.content)
          ? Readable.from([object.content])
          : object.content;
    const written = await this.writeCommitted(
      object.bucket,
      object.key,
      content,
      keptHeaders(object.metadata),
    );
    return { size: written.size, md5: written.md5 };
  }

  override async copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata: Record<string, string> | null,
  ): Promise<StoredMetadata> {
    const source = await this.locked(srcBucket, srcKey, async () => {
      const committed = await this.readCommitted(srcBucket, srcKey);
      return { metadata: committed.metadata, handle: await open(committed.objectPath, 'r') };
    }).catch((error: unknown) => {
      // Deleted since s3rver checked that it exists.
      if (!isMissing(error)) throw error;
      throw new S3rverError('NoSuchKey', 'The specified key does not exist.', { Key: srcKey });
    });
    try {
      await this.writeCommitted(
        destBucket,
        destKey,
        source.handle.createReadStream(),
        keptHeaders(replacementMetadata ?? source.metadata),
      );
    } finally {
      // Closed already when the stream ended; not when the write failed before reading it.
      await source.handle.close().catch(() => undefined);
    }
    return this.getMetadata(destBucket, destKey);
  }

  override async deleteObject(bucket: string, key: string): Promise<void> {
    const objectPath = this.getResourcePath(bucket, key, 'object');
    await this.locked(bucket, key, async () => {
      // The object first: once it is gone the key is absent, whatever else remains.
      for (const resource of ['object', 'metadata.json', 'object.md5']) {
        await rm(this.getResourcePath(bucket, key, resource), { force: true });
      }
    });
    await removeEmptyDirectories(dirname(objectPath), this.getBucketPath(bucket));
  }

  override async listObjects(
    bucket: string,
    options: ListObjectsOptions,
  ): Promise<ListObjectsResult> {
    const {
      delimiter = '',
      startAfter = '',
      prefix = '',
      maxKeys = Number.POSITIVE_INFINITY,
    } = options;
    const bucketPath = this.getBucketPath(bucket);
    const found = await this.keysUnder(bucketPath, [], { prefix, startAfter });
    const candidates = found
      .filter((key) => compareKeys(key, startAfter) > 0 && key.startsWith(prefix))
      .sort(compareKeys);

    // As s3rver: keys folded into a common prefix do not count against maxKeys.
    const commonPrefixes = new Set<string>();
    const keys: string[] = [];
    let isTruncated = false;
    for (const key of candidates) {
      if (delimiter) {
        const index = key.slice(prefix.length).indexOf(delimiter);
        if (index !== -1) {
          commonPrefixes.add(key.slice(0, prefix.length + index + delimiter.length));
          continue;
        }
      }
      if (keys.length < maxKeys) {
        keys.push(key);
      } else {
        isTruncated = true;
        break;
      }
    }

    const metadata = await Promise.all(
      keys.map((key) =>
        this.getMetadata(bucket, key).catch((error: unknown) => {
          // Deleted since the folder was read.
          if (isMissing(error)) return undefined;
          throw error;
        }),
      ),
    );
    const objects = keys.flatMap((key, i) => {
      const found = metadata[i];
      return found === undefined ? [] : [new S3rverObjectModel(bucket, key, null, found)];
    });
    return { objects, commonPrefixes: [...commonPrefixes].sort(compareKeys), isTruncated };
  }

  // ---- internals ----

  private locked<T>(bucket: string, key: string, section: () => Promise<T>): Promise<T> {
    return this.locks.run(this.getResourcePath(bucket, key, 'object'), section);
  }

  /** The committed object's metadata as s3rver returns it; throws ENOENT when absent. Call under the lock. */
  private async readCommitted(bucket: string, key: string): Promise<Committed> {
    const objectPath = this.getResourcePath(bucket, key, 'object');
    const metadataPath = this.getResourcePath(bucket, key, 'metadata.json');
    const stats = await stat(objectPath);
    let stored: Record<string, unknown>;
    try {
      stored = JSON.parse(await readFile(metadataPath, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      // An object without metadata is a write that never finished: absent.
      if (isMissing(error)) throw notFound(metadataPath);
      throw error;
    }
    const record = commitRecordOf(stored);
    const md5 = record?.md5 ?? (await legacyMd5(objectPath));
    const headers = Object.fromEntries(
      Object.entries(stored).filter(
        (entry): entry is [string, string] =>
          entry[0] !== COMMIT_FIELD && typeof entry[1] === 'string',
      ),
    );
    return {
      objectPath,
      metadata: {
        ...headers,
        etag: JSON.stringify(md5),
        'last-modified': stats.mtime.toUTCString(),
        'content-length': stats.size,
      },
    };
  }

  /** Writes both files beside their places, then commits them with two renames under the lock. */
  private async writeCommitted(
    bucket: string,
    key: string,
    content: NodeJS.ReadableStream | Readable,
    headers: Record<string, string>,
  ): Promise<CommitRecord> {
    const objectPath = this.getResourcePath(bucket, key, 'object');
    const metadataPath = this.getResourcePath(bucket, key, 'metadata.json');
    const commit = randomBytes(6).toString('hex');
    const objectPartial = `${objectPath}.${commit}${PARTIAL_SUFFIX}`;
    const metadataPartial = `${metadataPath}.${commit}${PARTIAL_SUFFIX}`;
    try {
      const output = await createPartial(objectPartial);
      const hash = createHash('md5');
      let size = 0;
      await pipeline(
        content,
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            hash.update(chunk);
            size += chunk.length;
            callback(null, chunk);
          },
        }),
        output.createWriteStream(),
      );
      const record: CommitRecord = { commit, md5: hash.digest('hex'), size, key };
      await writeFile(
        metadataPartial,
        JSON.stringify({ ...headers, [COMMIT_FIELD]: record }, null, 2),
      );
      await this.locked(bucket, key, async () => {
        if (this.conditions()?.ifNoneMatch === '*' && (await exists(objectPath))) {
          throw new S3rverError(
            'PreconditionFailed',
            'At least one of the pre-conditions you specified did not hold',
            { Condition: 'If-None-Match' },
          );
        }
        // The metadata first: its commit id lets a restart finish the object's rename.
        await rename(metadataPartial, metadataPath);
        await rename(objectPartial, objectPath);
        // s3rver's own MD5 file would be stale now; the metadata carries the MD5.
        await rm(this.getResourcePath(bucket, key, 'object.md5'), { force: true });
      });
      return record;
    } finally {
      await rm(objectPartial, { force: true });
      await rm(metadataPartial, { force: true });
    }
  }

  /** Keys of the objects under `dir`, skipping folders that cannot hold a listed key. */
  private async keysUnder(
    dir: string,
    segments: readonly string[],
    bounds: { prefix: string; startAfter: string },
  ): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const keys: string[] = [];
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (segments.length === 0 && entry.name === UPLOADS_DIRECTORY) continue;
        const inner = [...segments, entry.name];
        if (!inner.some(isHashedSegment)) {
          const folder = `${S3rverFilesystemStore.decodeKeyPath(inner.join('/'))}/`;
          if (!folder.startsWith(bounds.prefix) && !bounds.prefix.startsWith(folder)) continue;
          if (compareKeys(folder, bounds.startAfter) < 0 && !bounds.startAfter.startsWith(folder)) {
            continue;
          }
        }
        keys.push(...(await this.keysUnder(path, inner, bounds)));
      } else if (entry.name.endsWith(OBJECT_SUFFIX)) {
        const name = entry.name.slice(0, -OBJECT_SUFFIX.length);
        const stored = [...segments, name];
        if (!stored.some(isHashedSegment)) {
          keys.push(S3rverFilesystemStore.decodeKeyPath(stored.join('/')));
          continue;
        }
        const key = await readRecordedKey(path.slice(0, -OBJECT_SUFFIX.length) + METADATA_SUFFIX);
        if (key !== undefined) keys.push(key);
      }
    }
    return keys;
  }
}

/**
 * Creates a write's temporary file and its folders. A delete of the folder's last
 * object removes the folder; if that happens between the mkdir and the open, do both again.
 */
async function createPartial(path: string): Promise<FileHandle> {
  for (let attempt = 1; ; attempt += 1) {
    await mkdir(dirname(path), { recursive: true });
    try {
      return await open(path, 'wx');
    } catch (error) {
      if (!isMissing(error) || attempt === 3) throw error;
    }
  }
}

async function readRecordedKey(metadataPath: string): Promise<string | undefined> {
  try {
    return commitRecordOf(JSON.parse(await readFile(metadataPath, 'utf8')))?.key;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/** MD5 of an object written by s3rver itself: its `.md5` file, else the bytes. */
async function legacyMd5(objectPath: string): Promise<string> {
  try {
    return (await readFile(`${objectPath}.md5`, 'utf8')).trim();
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  return createHash('md5')
    .update(await readFile(objectPath))
    .digest('hex');
}

/** Removes `dir` and its parents while empty, up to (not including) `root`. */
export async function removeEmptyDirectories(dir: string, root: string): Promise<void> {
  let current = dir;
  while (relative(root, current) !== '' && !relative(root, current).startsWith('..')) {
    try {
      await rmdir(current);
    } catch {
      // Not empty (or already gone): the parents are not empty either.
      return;
    }
    current = current.slice(0, current.lastIndexOf(sep));
  }
}
