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
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ChecksumAlgorithm, isChecksumAlgorithm, md5Meter } from './checksums.js';
import { S3Error } from './errors.js';
import {
  compareKeys,
  isHashedSegment,
  isValidBucketName,
  segmentOf,
  storedSegment,
  storedSegments,
} from './key-paths.js';
import { isMissing, KeyLocks } from './locks.js';
import type { StoredChecksum } from './payload.js';

/**
 * File names, kept from s3rver's layout so data folders it wrote keep working:
 * `<last key segment>._S3rver_object` beside `<last key segment>._S3rver_metadata.json`.
 */
export const OBJECT_SUFFIX = '._S3rver_object';
export const METADATA_SUFFIX = '._S3rver_metadata.json';
export const MD5_SUFFIX = '._S3rver_object.md5';
export const PARTIAL_SUFFIX = '.partial';

/**
 * What the store adds to the metadata file. `commit` names the write: its object
 * bytes were written to `<object>.<commit>.partial` before the metadata was renamed
 * into place, so a restart can finish a write cut between its two renames. `key` is
 * the full key (a long segment's stored name does not hold it).
 */
export interface CommitRecord {
  readonly commit: string;
  readonly md5: string;
  readonly size: number;
  readonly key: string;
  /** A multipart object's ETag (`<md5 of part md5s>-<n>`); absent: the MD5. */
  readonly etag?: string;
  /** Sizes of a multipart object's parts, for `partNumber` reads. */
  readonly parts?: readonly number[];
  readonly checksum?: StoredChecksum;
}

export const COMMIT_FIELD = '@local-s3';

/** The headers kept with an object and sent back on GET and HEAD. */
const KEPT_HEADERS = [
  'content-type',
  'content-encoding',
  'content-disposition',
  'content-language',
  'cache-control',
  'expires',
  'x-amz-website-redirect-location',
];

export function keptHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') continue;
    if (KEPT_HEADERS.includes(name) || name.startsWith('x-amz-meta-')) kept[name] = value;
  }
  return kept;
}

/** An object as S3 describes it. */
export interface ObjectRecord {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** Without quotes. */
  readonly etag: string;
  readonly lastModified: Date;
  readonly headers: Readonly<Record<string, string>>;
  readonly parts?: readonly number[];
  readonly checksum?: StoredChecksum;
}

export interface WriteOptions {
  readonly headers: Record<string, string>;
  /** Read once the content has ended (a checksum computed or verified on the way). */
  readonly checksum?: () => StoredChecksum | undefined;
  readonly etag?: string;
  readonly parts?: readonly number[];
  /** Checked under the key's lock at the commit: throws to refuse the write (conditional writes). */
  readonly precondition?: (existing: ObjectRecord | undefined) => void;
}

function readChecksum(value: unknown): StoredChecksum | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { algorithm, value: digest } = value as Record<string, unknown>;
  if (
    typeof algorithm !== 'string' ||
    !isChecksumAlgorithm(algorithm) ||
    typeof digest !== 'string'
  )
    return undefined;
  return { algorithm: algorithm as ChecksumAlgorithm, value: digest };
}

export function commitRecordOf(json: unknown): CommitRecord | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const record = (json as Record<string, unknown>)[COMMIT_FIELD];
  if (typeof record !== 'object' || record === null) return undefined;
  const { commit, md5, size, key, etag, parts, checksum } = record as Record<string, unknown>;
  if (
    typeof commit !== 'string' ||
    typeof md5 !== 'string' ||
    typeof size !== 'number' ||
    typeof key !== 'string'
  ) {
    return undefined;
  }
  const stored = readChecksum(checksum);
  return {
    commit,
    md5,
    size,
    key,
    ...(typeof etag === 'string' ? { etag } : {}),
    ...(Array.isArray(parts) && parts.every((p) => typeof p === 'number')
      ? { parts: parts as number[] }
      : {}),
    ...(stored ? { checksum: stored } : {}),
  };
}

/**
 * Buckets are folders of the root, objects are files named by their key's segments
 * (see key-paths.ts: no key can reach outside its bucket's folder). Guarantees:
 *
 * - **Whole or absent, even after `kill -9`.** A write streams the bytes to
 *   `<object>.<commit>.partial` and the metadata (commit id, MD5, size, key) to
 *   `<metadata>.<commit>.partial`, then renames the metadata, then the object.
 *   Readers take the key's lock for the moment they read the metadata and open the
 *   object, and the renames happen under the same lock, so no request sees a new
 *   metadata file beside an old object. After `kill -9`, `recoverStore` finishes a
 *   write cut between the renames and removes everything else half-written.
 * - **Conditional writes** are checked under the lock at the commit, so of two
 *   racing `If-None-Match: *` writes exactly one wins.
 */
export class ObjectStore {
  private readonly locks = new KeyLocks();

  constructor(readonly root: string) {}

  bucketPath(bucket: string): string {
    if (!isValidBucketName(bucket))
      throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.', {
        BucketName: bucket,
      });
    return join(this.root, bucket);
  }

  resourcePath(
    bucket: string,
    key: string,
    resource: 'object' | 'metadata.json' | 'object.md5',
  ): string {
    const parts = storedSegments(key);
    const last = parts.pop() ?? '';
    return join(this.bucketPath(bucket), ...parts, `${last}._S3rver_${resource}`);
  }

  async bucketExists(bucket: string): Promise<boolean> {
    if (!isValidBucketName(bucket)) return false;
    return exists(this.bucketPath(bucket));
  }

  /** True when it was created, false when it existed. */
  async createBucket(bucket: string): Promise<boolean> {
    const path = this.bucketPath(bucket);
    if (await exists(path)) return false;
    await mkdir(path, { recursive: true });
    return true;
  }

  async deleteBucket(bucket: string): Promise<void> {
    const path = this.bucketPath(bucket);
    if ((await this.listKeys(bucket, { prefix: '', startAfter: '' })).length > 0) {
      throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', {
        BucketName: bucket,
      });
    }
    await rm(path, { recursive: true, force: true });
  }

  async listBuckets(): Promise<{ name: string; created: Date }[]> {
    const entries = await entriesOf(this.root);
    const buckets: { name: string; created: Date }[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || !isValidBucketName(entry.name)) continue;
      buckets.push({
        name: entry.name,
        created: (await stat(join(this.root, entry.name))).birthtime,
      });
    }
    return buckets.sort((a, b) => compareKeys(a.name, b.name));
  }

  async head(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    return this.locked(bucket, key, () => this.readCommitted(bucket, key));
  }

  /**
   * The object with an open handle on its bytes. The open file keeps this version's
   * bytes even if a write renames a new one into place while they stream out. The
   * caller closes the handle (a stream made with autoClose does).
   */
  async open(
    bucket: string,
    key: string,
  ): Promise<{ record: ObjectRecord; handle: FileHandle } | undefined> {
    return this.locked(bucket, key, async () => {
      const record = await this.readCommitted(bucket, key);
      if (!record) return undefined;
      try {
        return { record, handle: await open(this.resourcePath(bucket, key, 'object'), 'r') };
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    });
  }

  async delete(bucket: string, key: string): Promise<void> {
    const objectPath = this.resourcePath(bucket, key, 'object');
    await this.locked(bucket, key, async () => {
      // The object first: once it is gone the key is absent, whatever else remains.
      for (const resource of ['object', 'metadata.json', 'object.md5'] as const) {
        await rm(this.resourcePath(bucket, key, resource), { force: true });
      }
    });
    await removeEmptyDirectories(dirname(objectPath), this.bucketPath(bucket));
  }

  /** Writes both files beside their places, then commits them with two renames under the lock. */
  async write(
    bucket: string,
    key: string,
    content: Readable,
    options: WriteOptions,
  ): Promise<ObjectRecord> {
    const objectPath = this.resourcePath(bucket, key, 'object');
    const metadataPath = this.resourcePath(bucket, key, 'metadata.json');
    const commit = randomBytes(6).toString('hex');
    const objectPartial = `${objectPath}.${commit}${PARTIAL_SUFFIX}`;
    const metadataPartial = `${metadataPath}.${commit}${PARTIAL_SUFFIX}`;
    try {
      const output = await createPartial(objectPartial);
      const meter = md5Meter();
      await pipeline(content, meter.stream, output.createWriteStream());
      const checksum = options.checksum?.();
      const record: CommitRecord = {
        commit,
        md5: meter.md5(),
        size: meter.size(),
        key,
        ...(options.etag ? { etag: options.etag } : {}),
        ...(options.parts ? { parts: options.parts } : {}),
        ...(checksum ? { checksum } : {}),
      };
      await writeFile(
        metadataPartial,
        JSON.stringify({ ...options.headers, [COMMIT_FIELD]: record }, null, 2),
      );
      return await this.locked(bucket, key, async () => {
        options.precondition?.(await this.readCommitted(bucket, key));
        // The metadata first: its commit id lets a restart finish the object's rename.
        await rename(metadataPartial, metadataPath);
        await rename(objectPartial, objectPath);
        // A legacy MD5 file would be stale now; the metadata carries the MD5.
        await rm(this.resourcePath(bucket, key, 'object.md5'), { force: true });
        const written = await this.readCommitted(bucket, key);
        if (!written) throw new Error(`the write of ${key} committed but cannot be read back`);
        return written;
      });
    } finally {
      await rm(objectPartial, { force: true });
      await rm(metadataPartial, { force: true });
    }
  }

  /** Every key of the bucket under `prefix` and after `startAfter`, in S3's order. */
  async listKeys(
    bucket: string,
    bounds: { prefix: string; startAfter: string },
  ): Promise<string[]> {
    const found = await this.keysUnder(this.bucketPath(bucket), [], bounds);
    return found
      .filter((key) => compareKeys(key, bounds.startAfter) > 0 && key.startsWith(bounds.prefix))
      .sort(compareKeys);
  }

  // ---- internals ----

  private locked<T>(bucket: string, key: string, section: () => Promise<T>): Promise<T> {
    return this.locks.run(this.resourcePath(bucket, key, 'object'), section);
  }

  /** The committed object; undefined when absent. Call under the lock. */
  private async readCommitted(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const objectPath = this.resourcePath(bucket, key, 'object');
    const metadataPath = this.resourcePath(bucket, key, 'metadata.json');
    let stored: Record<string, unknown>;
    let stats: Awaited<ReturnType<typeof stat>>;
    try {
      stats = await stat(objectPath);
      // An object without metadata is a write that never finished: absent.
      stored = JSON.parse(await readFile(metadataPath, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
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
      bucket,
      key,
      size: stats.size,
      etag: record?.etag ?? md5,
      lastModified: stats.mtime,
      headers: keptHeaders(headers),
      ...(record?.parts ? { parts: record.parts } : {}),
      ...(record?.checksum ? { checksum: record.checksum } : {}),
    };
  }

  /** Keys of the objects under `dir`, skipping folders that cannot hold a listed key. */
  private async keysUnder(
    dir: string,
    segments: readonly string[],
    bounds: { prefix: string; startAfter: string },
  ): Promise<string[]> {
    const keys: string[] = [];
    for (const entry of await entriesOf(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        const inner = [...segments, entry.name];
        if (!inner.some(isHashedSegment)) {
          const folder = `${inner.map(segmentOf).join('/')}/`;
          if (!folder.startsWith(bounds.prefix) && !bounds.prefix.startsWith(folder)) continue;
          if (compareKeys(folder, bounds.startAfter) < 0 && !bounds.startAfter.startsWith(folder))
            continue;
        }
        keys.push(...(await this.keysUnder(path, inner, bounds)));
      } else if (entry.name.endsWith(OBJECT_SUFFIX)) {
        const stored = [...segments, entry.name.slice(0, -OBJECT_SUFFIX.length)];
        if (!stored.some(isHashedSegment)) {
          keys.push(stored.map(segmentOf).join('/'));
          continue;
        }
        const key = await readRecordedKey(path.slice(0, -OBJECT_SUFFIX.length) + METADATA_SUFFIX);
        if (key !== undefined) keys.push(key);
      }
    }
    return keys;
  }
}

/** The stored name of one segment, exported for tests that look at the folder. */
export { storedSegment };

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

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

export async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return [];
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
