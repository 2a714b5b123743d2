import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { md5Meter } from './checksums.js';
import { noSuchUpload } from './errors.js';
import { isValidBucketName } from './key-paths.js';
import { isMissing, KeyLocks } from './locks.js';
import { entriesOf, exists, PARTIAL_SUFFIX } from './object-store.js';
import type { StoredChecksum } from './payload.js';

/** Multipart uploads live beside the buckets, never inside one (a key could name the folder). */
export const MULTIPART_DIRECTORY = '.multipart';

export interface UploadRecord {
  readonly uploadId: string;
  readonly bucket: string;
  readonly key: string;
  readonly initiated: string;
  readonly headers: Record<string, string>;
}

export interface PartRecord {
  readonly partNumber: number;
  /** MD5 hex, without quotes. */
  readonly etag: string;
  readonly size: number;
  readonly lastModified: string;
  readonly checksum?: StoredChecksum;
}

/** What a completed upload leaves behind, so completing it again gives the same answer (as S3). */
export interface CompletedRecord {
  readonly key: string;
  readonly etag: string;
  readonly parts: readonly (readonly [number, string])[];
}

const UPLOAD_ID = /^[0-9a-f]{32}$/;
/** Completed uploads are remembered this long (for a repeated CompleteMultipartUpload). */
export const COMPLETED_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Open uploads: `<root>/.multipart/<bucket>/<uploadId>/` with `upload.json`, and each
 * part as `part-<n>` plus `part-<n>.json`, written to a partial file and renamed.
 */
export class MultipartStore {
  private readonly locks = new KeyLocks();

  constructor(private readonly root: string) {}

  private uploadPath(bucket: string, uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId) || !isValidBucketName(bucket)) throw noSuchUpload(uploadId);
    return join(this.root, MULTIPART_DIRECTORY, bucket, uploadId);
  }

  /** Runs one section at a time per upload (parts, completion, abort). */
  locked<T>(bucket: string, uploadId: string, section: () => Promise<T>): Promise<T> {
    return this.locks.run(this.uploadPath(bucket, uploadId), section);
  }

  async create(
    bucket: string,
    key: string,
    headers: Record<string, string>,
  ): Promise<UploadRecord> {
    const uploadId = randomBytes(16).toString('hex');
    const path = this.uploadPath(bucket, uploadId);
    await mkdir(path, { recursive: true });
    const record: UploadRecord = {
      uploadId,
      bucket,
      key,
      initiated: new Date().toISOString(),
      headers,
    };
    await writeFile(join(path, 'upload.json'), JSON.stringify(record));
    return record;
  }

  /** The open upload of this key, or NoSuchUpload (also once completed: see completed()). */
  async upload(bucket: string, key: string, uploadId: string): Promise<UploadRecord> {
    const record = await readJson<UploadRecord>(
      join(this.uploadPath(bucket, uploadId), 'upload.json'),
    );
    if (!record || record.key !== key) throw noSuchUpload(uploadId);
    if (await this.completed(bucket, uploadId)) throw noSuchUpload(uploadId);
    return record;
  }

  async completed(bucket: string, uploadId: string): Promise<CompletedRecord | undefined> {
    return readJson<CompletedRecord>(join(this.uploadPath(bucket, uploadId), 'completed.json'));
  }

  async writePart(
    bucket: string,
    uploadId: string,
    partNumber: number,
    content: Readable,
    checksum: () => StoredChecksum | undefined,
  ): Promise<PartRecord> {
    const path = this.uploadPath(bucket, uploadId);
    const partial = join(
      path,
      `part-${partNumber}.${randomBytes(6).toString('hex')}${PARTIAL_SUFFIX}`,
    );
    const meter = md5Meter();
    try {
      await pipeline(content, meter.stream, createWriteStream(partial, { flags: 'wx' }));
      const stored = checksum();
      const record: PartRecord = {
        partNumber,
        etag: meter.md5(),
        size: meter.size(),
        lastModified: new Date().toISOString(),
        ...(stored ? { checksum: stored } : {}),
      };
      await this.locked(bucket, uploadId, async () => {
        // Aborted or completed while the part was uploading: the part has nowhere to go.
        if (
          !(await readJson(join(path, 'upload.json'))) ||
          (await this.completed(bucket, uploadId))
        ) {
          throw noSuchUpload(uploadId);
        }
        await rename(partial, join(path, `part-${partNumber}`));
        await writeFile(join(path, `part-${partNumber}.json`), JSON.stringify(record));
      });
      return record;
    } finally {
      await rm(partial, { force: true });
    }
  }

  async parts(bucket: string, uploadId: string): Promise<PartRecord[]> {
    const path = this.uploadPath(bucket, uploadId);
    const parts: PartRecord[] = [];
    for (const entry of await entriesOf(path)) {
      const match = /^part-(\d+)\.json$/.exec(entry.name);
      if (!match) continue;
      const record = await readJson<PartRecord>(join(path, entry.name));
      if (record && (await exists(join(path, `part-${match[1]}`)))) parts.push(record);
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  /**
   * The bytes of the given parts, one after another: one stream reading each part file in
   * turn (a pipeline per part into one stream left listeners on it for every part, and
   * Node warned of a leak past ten parts).
   */
  concatenated(bucket: string, uploadId: string, partNumbers: readonly number[]): Readable {
    const path = this.uploadPath(bucket, uploadId);
    return Readable.from(
      (async function* parts() {
        for (const n of partNumbers) yield* createReadStream(join(path, `part-${n}`));
      })(),
      { objectMode: false },
    );
  }

  /** Records the completion and frees the parts' space. */
  async markCompleted(bucket: string, uploadId: string, completed: CompletedRecord): Promise<void> {
    const path = this.uploadPath(bucket, uploadId);
    await writeFile(join(path, 'completed.json'), JSON.stringify(completed));
    for (const entry of await entriesOf(path)) {
      if (entry.name.startsWith('part-')) await rm(join(path, entry.name), { force: true });
    }
  }

  async abort(bucket: string, uploadId: string): Promise<void> {
    await rm(this.uploadPath(bucket, uploadId), { recursive: true, force: true });
  }

  /** The open uploads of a bucket, by key then initiation. */
  async list(bucket: string): Promise<UploadRecord[]> {
    if (!isValidBucketName(bucket)) return [];
    const dir = join(this.root, MULTIPART_DIRECTORY, bucket);
    const uploads: UploadRecord[] = [];
    for (const entry of await entriesOf(dir)) {
      if (!UPLOAD_ID.test(entry.name)) continue;
      if (await exists(join(dir, entry.name, 'completed.json'))) continue;
      const record = await readJson<UploadRecord>(join(dir, entry.name, 'upload.json'));
      if (record) uploads.push(record);
    }
    return uploads;
  }

  /** At start: drop completions older than COMPLETED_RETENTION_MS and half-written parts. */
  async tidy(now = Date.now()): Promise<void> {
    const base = join(this.root, MULTIPART_DIRECTORY);
    for (const bucket of await entriesOf(base)) {
      for (const upload of await entriesOf(join(base, bucket.name))) {
        const path = join(base, bucket.name, upload.name);
        try {
          const done = await stat(join(path, 'completed.json'));
          if (now - done.mtimeMs > COMPLETED_RETENTION_MS)
            await rm(path, { recursive: true, force: true });
          continue;
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
        for (const entry of await entriesOf(path)) {
          if (entry.name.endsWith(PARTIAL_SUFFIX))
            await rm(join(path, entry.name), { force: true });
        }
      }
    }
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if (
      isMissing(error) ||
      error instanceof SyntaxError ||
      (error as NodeJS.ErrnoException).code === 'ENOTDIR'
    )
      return undefined;
    throw error;
  }
}
